#!/usr/bin/python3
"""Convert an upstream (Self Forcing / CausVid / Wan2.1 / Matrix-Game 2.0) causal DiT checkpoint
into a worldcast model directory: config.json + model.safetensors with upstream tensor names.

    /usr/bin/python3 tools/convert_checkpoint.py CHECKPOINT --config CONFIG.json --out DIR
        [--dtype f32|bf16|f16] [--key generator_ema] [--set local_attn_size=12 ...]

CHECKPOINT  a torch .pt/.pth state_dict (possibly nested under generator_ema / generator /
            model / state_dict and prefixed with `model.` as Self Forcing saves it, or
            `module.` / `_orig_mod.`), or a .safetensors file.
CONFIG      the upstream diffusers config.json (e.g. Wan2.1-T2V-1.3B/config.json) or a
            worldcast config.json.  Upstream-constructor keys missing from it take the
            upstream CausalWanModel defaults, except text_dim / patch_size / qk_norm /
            cross_attn_norm (upstream's `ignore_for_config`), which are read off the
            checkpoint when absent.  Loop keys missing from it take worldcast's defaults:
            num_frame_per_block 3, local_attn_size -1, sink_size 0,
            denoising_step_list [1000,750,500,250], warp_denoising_step true,
            timestep_shift 5.0, context_noise 0, num_train_timesteps 1000.
--set K=V   override/add a config key (V parsed as JSON, else kept as a string).
--sampler   the few-step sampler the checkpoint was distilled for (loop keys; --set wins):
              self-forcing    [1000, 750, 500, 250], warped, shift 5 (Self Forcing's configs)
              causvid         [1000, 757, 522], not warped, shift 8 (CausVid's configs)
              matrix-game-2   [1000, 666, 333], warped, shift 5 (Matrix-Game 2.0's inference yaml)
            and 3 latent frames per block.  A staggered pipeline (MAGI-1 style) is a config key
            too: --set 'schedule={"type": "staggered", "window": 4}'.
Weights are stored f32 / bf16 / f16; int8 (Q8_0-like) is chosen when loading
(loadModel(dir, { weights: 'int8' })), not in the file.

Matrix-Game 2.0 (SkyworkAI/Matrix-Game, Matrix-Game-2: configs/distilled_model/<variant>/
config.json, model_type "i2v" with an `action_config`):
    /usr/bin/python3 tools/convert_checkpoint.py base_distilled_model/base_distill.safetensors \
        --config configs/distilled_model/universal/config.json --mg2-variant universal --out DIR
adds worldcast's `action` (mode "matrix_game", key / mouse-axis names of --mg2-variant:
universal w s a d + pitch yaw, gta_drive w s + pitch yaw, templerun nomove jump slide
turn_left turn_right left right; generic key0.. / mouse0.. otherwise), `image_latent`
(mask 4 + image 16 channels), `clip_dim` 1280 / `clip_len` 257 (the CLIP context), and MG2's
loop (inference_yaml: 3 frames per block, steps [1000, 666, 333] warped at shift 5,
context_noise 0, latent 44 x 80 for 352 x 640 video) where the config does not say.

Names and shapes are validated against the config; any missing / unexpected / mis-shaped
tensor is an error that lists them all.  Wrapper-level tensors outside the model (e.g. a
GAN critic's `_cls_pred_branch.*` next to `model.*`) are dropped with a notice.
"""

import argparse
import json
import math
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference"))

import safetensors_io  # noqa: E402

from wan_causal import LOOP_DEFAULTS, MODEL_DEFAULTS  # noqa: E402  (one source of the defaults)

INFERRED_IF_ABSENT = ("text_dim", "patch_size", "qk_norm", "cross_attn_norm")
NESTED_KEYS = ("generator_ema", "generator", "model", "state_dict", "module")
PREFIXES = ("model.", "module.", "_orig_mod.")
# Keys of upstream/diffusers configs that are not model facts worldcast keeps.
DROP_CONFIG_KEYS = ("_diffusers_version", "_name_or_path", "inject_sample_info")

# Matrix-Game 2.0 (pipeline/causal_inference.py get_current_action: the one-hot order of each
# mode's KEYBOARD_IDX and the (vertical, horizontal) camera pair of CAMERA_VALUE_MAP).
MG2_VARIANTS = {
    "universal": {"keys": ["w", "s", "a", "d"], "mouse": ["pitch", "yaw"]},
    "gta_drive": {"keys": ["w", "s"], "mouse": ["pitch", "yaw"]},
    "templerun": {"keys": ["nomove", "jump", "slide", "turn_left", "turn_right", "left", "right"], "mouse": []},
}
# configs/inference_yaml/inference_*.yaml and inference.py (352 x 640 frames -> 44 x 80 latents)
MG2_LOOP = {"num_frame_per_block": 3, "denoising_step_list": [1000, 666, 333], "warp_denoising_step": True,
            "timestep_shift": 5.0, "context_noise": 0, "latent_height": 44, "latent_width": 80}
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference"))
from matrix_game import ACTION_DEFAULTS, CLIP_DIM  # noqa: E402


class ConversionError(Exception):
    pass


def expected_shapes(cfg):
    """name -> shape of upstream CausalWanModel.state_dict() (+ worldcast's action module)."""
    dim, ffn, heads = cfg["dim"], cfg["ffn_dim"], cfg["num_heads"]
    pt, ph, pw = cfg["patch_size"]
    if dim % heads or (dim // heads) % 2:
        raise ConversionError(f"dim {dim} must be a multiple of num_heads {heads} with an even head_dim")
    s = {
        "patch_embedding.weight": [dim, cfg["in_dim"], pt, ph, pw],
        "patch_embedding.bias": [dim],
        "time_embedding.0.weight": [dim, cfg["freq_dim"]],
        "time_embedding.0.bias": [dim],
        "time_embedding.2.weight": [dim, dim],
        "time_embedding.2.bias": [dim],
        "time_projection.1.weight": [6 * dim, dim],
        "time_projection.1.bias": [6 * dim],
        "head.head.weight": [pt * ph * pw * cfg["out_dim"], dim],
        "head.head.bias": [pt * ph * pw * cfg["out_dim"]],
        "head.modulation": [1, 2, dim],
    }
    if cfg.get("model_type", "t2v") == "i2v":  # Matrix-Game 2.0: img_emb = MLPProj(clip_dim, dim)
        c = cfg.get("clip_dim", CLIP_DIM)
        s.update({"img_emb.proj.0.weight": [c], "img_emb.proj.0.bias": [c], "img_emb.proj.1.weight": [c, c],
                  "img_emb.proj.1.bias": [c], "img_emb.proj.3.weight": [dim, c], "img_emb.proj.3.bias": [dim],
                  "img_emb.proj.4.weight": [dim], "img_emb.proj.4.bias": [dim]})
    else:
        s.update({"text_embedding.0.weight": [dim, cfg["text_dim"]], "text_embedding.0.bias": [dim],
                  "text_embedding.2.weight": [dim, dim], "text_embedding.2.bias": [dim]})
    for i in range(cfg["num_layers"]):
        b = f"blocks.{i}."
        for att in ("self_attn", "cross_attn"):
            for lin in "qkvo":
                s[f"{b}{att}.{lin}.weight"] = [dim, dim]
                s[f"{b}{att}.{lin}.bias"] = [dim]
            if cfg["qk_norm"]:
                s[f"{b}{att}.norm_q.weight"] = [dim]
                s[f"{b}{att}.norm_k.weight"] = [dim]
        if cfg["cross_attn_norm"]:
            s[f"{b}norm3.weight"] = [dim]
            s[f"{b}norm3.bias"] = [dim]
        s[f"{b}ffn.0.weight"] = [ffn, dim]
        s[f"{b}ffn.0.bias"] = [ffn]
        s[f"{b}ffn.2.weight"] = [dim, ffn]
        s[f"{b}ffn.2.bias"] = [dim]
        s[f"{b}modulation"] = [1, 6, dim]
    act = cfg.get("action")
    if act and act.get("mode") == "matrix_game":
        s.update(matrix_game_shapes(cfg))
    elif act:
        if act.get("mode", "additive") != "additive":
            raise ConversionError(f"action mode {act.get('mode')!r} is not supported")
        n_act = len(act.get("keys", [])) + len(act.get("mouse", []))
        s["action_embedding.0.weight"] = [dim, n_act]
        s["action_embedding.0.bias"] = [dim]
        s["action_embedding.2.weight"] = [dim, dim]
        s["action_embedding.2.bias"] = [dim]
    return s


def matrix_game_shapes(cfg):
    """blocks.{i}.action_model.* of upstream action_module.py ActionModule, for action_config.blocks."""
    ac = dict(ACTION_DEFAULTS)
    ac.update(cfg.get("action_config") or {})
    dim, n = cfg["dim"], ac["heads_num"]
    pad_t = ac["vae_time_compression_ratio"] * ac["windows_size"]
    if ac["img_hidden_size"] != dim:
        raise ConversionError(f"action_config.img_hidden_size {ac['img_hidden_size']} != dim {dim}")
    s = {}

    def lin(name, out, inp, bias=True):
        s[name + ".weight"] = [out, inp]
        if bias:
            s[name + ".bias"] = [out]
    for i in ac["blocks"]:
        if not 0 <= i < cfg["num_layers"]:
            raise ConversionError(f"action_config.blocks lists {i}, not a layer")
        a = f"blocks.{i}.action_model."
        qb = ac["qkv_bias"]
        if ac["enable_keyboard"]:
            lin(a + "keyboard_embed.0", ac["hidden_size"], ac["keyboard_dim_in"])
            lin(a + "keyboard_embed.2", ac["hidden_size"], ac["hidden_size"])
        if ac["enable_mouse"]:
            c = ac["mouse_hidden_dim"]
            lin(a + "mouse_mlp.0", c, ac["mouse_dim_in"] * pad_t + dim)
            lin(a + "mouse_mlp.2", c, c)
            s[a + "mouse_mlp.3.weight"], s[a + "mouse_mlp.3.bias"] = [c], [c]
            lin(a + "t_qkv", 3 * c, c, qb)
            if ac["qk_norm"]:
                s[a + "img_attn_q_norm.weight"] = s[a + "img_attn_k_norm.weight"] = [c // n]
            lin(a + "proj_mouse", dim, c, qb)
        if ac["enable_keyboard"]:
            kh = ac["keyboard_hidden_dim"]
            if ac["qk_norm"]:
                s[a + "key_attn_q_norm.weight"] = s[a + "key_attn_k_norm.weight"] = [kh // n]
            lin(a + "mouse_attn_q", kh, dim, qb)
            lin(a + "keyboard_attn_kv", 2 * kh, ac["hidden_size"] * pad_t, qb)
            lin(a + "proj_keyboard", dim, kh, qb)
    return s


def matrix_game_config(cfg, overrides, variant, notes):
    """worldcast's keys for an upstream Matrix-Game 2.0 config (model_type i2v + action_config)."""
    ac = dict(ACTION_DEFAULTS)
    ac.update(cfg.get("action_config") or {})
    for k, v in MG2_LOOP.items():
        if k not in cfg and k not in overrides:
            cfg[k] = v
            notes.append(f"{k} = {json.dumps(v)} (Matrix-Game 2.0 inference default)")
    if "image_latent" not in cfg and "image_latent" not in overrides:
        m = 4  # inference.py: cond_concat = cat([mask_cond[:, :4], img_cond])
        cfg["image_latent"] = {"channels": cfg["in_dim"] - cfg["out_dim"] - m, "mask_channels": m}
        notes.append(f"image_latent = {json.dumps(cfg['image_latent'])} (in_dim = out_dim + mask + image latent)")
    for k, v in (("clip_dim", CLIP_DIM), ("clip_len", 257)):
        if k not in cfg and k not in overrides:
            cfg[k] = v
            notes.append(f"{k} = {v} (CLIP ViT-H/14 image tokens: the context)")
    if cfg.get("action") or not cfg.get("action_config"):
        return
    nk = ac["keyboard_dim_in"] if ac["enable_keyboard"] else 0
    nm = ac["mouse_dim_in"] if ac["enable_mouse"] else 0
    names = MG2_VARIANTS.get(variant) if variant else None
    if names and (len(names["keys"]) != nk or len(names["mouse"]) != nm):
        raise ConversionError(f"--mg2-variant {variant}: {len(names['keys'])} keys / {len(names['mouse'])} mouse axes, "
                              f"but action_config has {nk} / {nm}")
    if not names:
        names = {"keys": [f"key{i}" for i in range(nk)], "mouse": [f"mouse{i}" for i in range(nm)]}
        notes.append("action names are generic (pass --mg2-variant universal|gta_drive|templerun for upstream's)")
    cfg["action"] = {"mode": "matrix_game", "keys": names["keys"],
                     "mouse": [{"name": a, "min": -1, "max": 1} for a in names["mouse"]]}
    notes.append(f"action = matrix_game, keys {names['keys']}, mouse {names['mouse']}, "
                 f"{len(ac['blocks'])} action blocks, window {ac['windows_size']} x {ac['vae_time_compression_ratio']} video frames")


def load_checkpoint(path, key=None, allow_pickle=False):
    """Return (flat {name: tensor}, description of where it came from)."""
    if path.endswith(".safetensors"):
        return safetensors_io.load_file(path), "safetensors"
    import torch
    try:
        obj = torch.load(path, map_location="cpu", weights_only=not allow_pickle)
    except TypeError:  # torch without weights_only
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001
        if allow_pickle:
            raise
        raise ConversionError(f"could not load {path} with weights_only=True ({e}); "
                              f"if you trust the file, re-run with --allow-pickle") from e
    where = "top level"
    if key is not None:
        if not isinstance(obj, dict) or key not in obj:
            raise ConversionError(f"--key {key!r} not in checkpoint (top-level keys: "
                                  f"{sorted(obj)[:20] if isinstance(obj, dict) else type(obj).__name__})")
        obj, where = obj[key], f"[{key!r}]"
    else:
        while isinstance(obj, dict) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
            found = [k for k in NESTED_KEYS if k in obj and isinstance(obj[k], dict)]
            if not found:
                raise ConversionError(f"no state_dict found; top-level keys: {sorted(obj)[:20]}")
            obj = obj[found[0]]
            where = f"[{found[0]!r}]" if where == "top level" else f"{where}[{found[0]!r}]"
    if not isinstance(obj, dict):
        raise ConversionError(f"expected a state_dict, got {type(obj).__name__}")
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    return tensors, where


def strip_prefixes(sd, expected):
    """Strip wrapper prefixes (model., module., _orig_mod.) as long as that helps matching."""
    notes = []
    dropped = []
    changed = True
    while changed:
        changed = False
        for p in PREFIXES:
            with_p = [k for k in sd if k.startswith(p)]
            if not with_p:
                continue
            hits_stripped = sum(1 for k in with_p if k[len(p):] in expected)
            hits_plain = sum(1 for k in sd if k in expected)
            if hits_stripped > hits_plain:
                others = [k for k in sd if not k.startswith(p)]
                dropped += others
                sd = {k[len(p):]: v for k, v in sd.items() if k.startswith(p)}
                notes.append(f"stripped prefix {p!r}")
                changed = True
    return sd, notes, dropped


def parse_set(items):
    out = {}
    for it in items or []:
        if "=" not in it:
            raise ConversionError(f"--set expects KEY=VALUE, got {it!r}")
        k, v = it.split("=", 1)
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def infer_from_checkpoint(sd):
    got = {}
    w = sd.get("text_embedding.0.weight")
    if w is not None:
        got["text_dim"] = int(w.shape[1])
    w = sd.get("patch_embedding.weight")
    if w is not None and w.dim() == 5:
        got["patch_size"] = [int(x) for x in w.shape[2:]]
    got["qk_norm"] = "blocks.0.self_attn.norm_q.weight" in sd
    got["cross_attn_norm"] = "blocks.0.norm3.weight" in sd
    return got


def build_config(src_cfg, sd, overrides, mg2_variant=None):
    cfg = {k: v for k, v in src_cfg.items() if k not in DROP_CONFIG_KEYS}
    notes = []
    cls = cfg.get("_class_name")
    if cls not in (None, "CausalWanModel", "WanModel"):
        notes.append(f"note: source _class_name is {cls!r}")
    cfg["_class_name"] = "CausalWanModel"
    inferred = infer_from_checkpoint(sd)
    for k in INFERRED_IF_ABSENT:
        if k not in cfg and k not in overrides and k in inferred:
            cfg[k] = inferred[k]
            notes.append(f"{k} = {json.dumps(inferred[k])} (not in config; read off the checkpoint)")
    if cfg.get("model_type", overrides.get("model_type")) == "i2v" or cfg.get("action_config"):
        matrix_game_config(cfg, overrides, mg2_variant, notes)
    elif mg2_variant:
        raise ConversionError("--mg2-variant needs a Matrix-Game 2.0 config (model_type i2v / action_config)")
    for k, v in MODEL_DEFAULTS.items():
        if k == "text_dim" and cfg.get("model_type") == "i2v":
            continue  # no text input: the context is clip_len x clip_dim
        if k not in cfg and k not in overrides:
            cfg[k] = v
            notes.append(f"{k} = {json.dumps(v)} (upstream default)")
    for k, v in LOOP_DEFAULTS.items():
        if k not in cfg and k not in overrides:
            cfg[k] = v
            notes.append(f"{k} = {json.dumps(v)} (worldcast default)")
    cfg.setdefault("action", None)
    cfg.setdefault("decoder", None)
    for k, v in overrides.items():
        cfg[k] = v
        notes.append(f"{k} = {json.dumps(v)} (--set)")
    cfg["patch_size"] = list(cfg["patch_size"])
    if cfg.get("model_type", "t2v") not in ("t2v", "i2v"):
        raise ConversionError(f"model_type {cfg['model_type']!r} is not supported (t2v, or i2v as Matrix-Game 2.0)")
    L, S, F = cfg["local_attn_size"], cfg["sink_size"], cfg["num_frame_per_block"]
    if L != -1 and L - S - F < 1:
        raise ConversionError(f"local_attn_size {L} must be -1 or >= sink_size {S} + num_frame_per_block {F} + 1")
    return cfg, notes


def validate(sd, expected):
    missing = sorted(k for k in expected if k not in sd)
    extra = sorted(k for k in sd if k not in expected)
    bad = sorted(f"{k}: checkpoint {list(sd[k].shape)} != expected {expected[k]}"
                 for k in expected if k in sd and list(sd[k].shape) != expected[k])
    if missing or extra or bad:
        lines = ["checkpoint does not match the config:"]
        for title, items in (("missing", missing), ("unexpected", extra), ("mis-shaped", bad)):
            if items:
                lines.append(f"  {title} ({len(items)}):")
                lines += [f"    {x}" for x in items]
        raise ConversionError("\n".join(lines))


def convert(checkpoint, config_path, out_dir, dtype="f32", key=None, overrides=None, allow_pickle=False,
            log=print, mg2_variant=None):
    import torch
    with open(config_path) as f:
        src_cfg = json.load(f)
    sd, where = load_checkpoint(checkpoint, key, allow_pickle)
    log(f"loaded {len(sd)} tensors from {checkpoint} ({where})")
    # first pass: a rough expected set from the raw config, to decide prefix stripping
    rough_cfg, _ = build_config(src_cfg, {}, overrides or {}, mg2_variant)
    sd, notes, dropped = strip_prefixes(sd, expected_shapes(rough_cfg))
    for n in notes:
        log(n)
    if dropped:
        log(f"dropped {len(dropped)} tensors outside the model namespace: "
            + ", ".join(sorted(dropped)[:8]) + (" ..." if len(dropped) > 8 else ""))
    cfg, notes = build_config(src_cfg, sd, overrides or {}, mg2_variant)
    for n in notes:
        log("config: " + n)
    expected = expected_shapes(cfg)
    validate(sd, expected)
    st_dtype = safetensors_io.normalize_dtype(dtype)
    if st_dtype not in ("F32", "BF16", "F16"):
        raise ConversionError(f"--dtype must be f32, bf16 or f16, not {dtype}")
    src_dtypes = sorted({str(v.dtype).replace("torch.", "") for v in sd.values()})
    tensors = {}
    for k in expected:
        t = sd[k]
        if not torch.is_floating_point(t):
            raise ConversionError(f"{k} has non-float dtype {t.dtype}")
        tensors[k] = t.detach().to(torch.float32) if (st_dtype != "BF16" or t.dtype != torch.bfloat16) else t
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    out_path = os.path.join(out_dir, "model.safetensors")
    safetensors_io.save_file(tensors, out_path, dtype=st_dtype, metadata={
        "format": "pt", "source": os.path.basename(checkpoint), "converted_by": "worldcast tools/convert_checkpoint.py"})
    n_params = sum(math.prod(v) for v in expected.values())
    log(f"wrote {out_dir}/config.json and model.safetensors: {len(tensors)} tensors, {n_params} parameters, "
        f"{src_dtypes} -> {st_dtype}, {os.path.getsize(out_path)} bytes")
    log(f"model: dim {cfg['dim']}, {cfg['num_layers']} layers, {cfg['num_heads']} heads, ffn {cfg['ffn_dim']}, "
        + (f"clip context {cfg['clip_len']}x{cfg['clip_dim']}" if cfg["model_type"] == "i2v" else
           f"text {cfg['text_dim']}x{cfg['text_len']}") + f", in/out {cfg['in_dim']}/{cfg['out_dim']}, patch {cfg['patch_size']}; "
        f"loop: {cfg['num_frame_per_block']} frames/block, local_attn_size {cfg['local_attn_size']}, "
        f"sink {cfg['sink_size']}, steps {cfg['denoising_step_list']} (warp {cfg['warp_denoising_step']}), "
        f"shift {cfg['timestep_shift']}")
    return cfg


SAMPLERS = {
    "self-forcing": {"denoising_step_list": [1000, 750, 500, 250], "warp_denoising_step": True, "timestep_shift": 5.0,
                     "num_frame_per_block": 3},
    "causvid": {"denoising_step_list": [1000, 757, 522], "warp_denoising_step": False, "timestep_shift": 8.0,
                "num_frame_per_block": 3},
    "matrix-game-2": {"denoising_step_list": [1000, 666, 333], "warp_denoising_step": True, "timestep_shift": 5.0,
                      "num_frame_per_block": 3},
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--config", required=True, help="upstream or worldcast config.json")
    ap.add_argument("--out", required=True, help="output model directory")
    ap.add_argument("--dtype", default="f32", choices=["f32", "bf16", "f16"])
    ap.add_argument("--key", default=None, help="take the state_dict from this top-level key "
                    "(default: first of generator_ema, generator, model, state_dict, module)")
    ap.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key (JSON value)")
    ap.add_argument("--allow-pickle", action="store_true", help="torch.load with weights_only=False (trusted files only)")
    ap.add_argument("--mg2-variant", choices=sorted(MG2_VARIANTS), default=None,
                    help="Matrix-Game 2.0: name the keys and mouse axes as upstream's mode does")
    ap.add_argument("--sampler", choices=sorted(SAMPLERS), default=None,
                    help="set the loop keys of this upstream sampler (explicit --set wins)")
    args = ap.parse_args(argv)
    try:
        overrides = parse_set(args.set)
        if args.sampler:
            for k, v in SAMPLERS[args.sampler].items():
                overrides.setdefault(k, v)
        convert(args.checkpoint, args.config, args.out, args.dtype, args.key, overrides, args.allow_pickle,
                mg2_variant=args.mg2_variant)
    except ConversionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
