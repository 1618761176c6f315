#!/usr/bin/python3
"""Verify the worldcast reference (wan_causal.py) against the real upstream Self Forcing code.

    git -C <mirror-or-clone> archive HEAD | tar -x -C /tmp/upstream
    /usr/bin/python3 tools/reference/check_upstream.py --upstream /tmp/upstream

What it does
  1. Imports upstream's CausalWanModel, WanDiffusionWrapper, FlowMatchScheduler and
     CausalInferencePipeline from the checkout, stubbing only what cannot import or run on
     torch 1.13 / CPU (listed by `install_stubs`; nothing upstream is edited):
       - torch.compile (absent in 1.13) -> identity; torch.nn.attention.flex_attention
         (absent) -> placeholders (only the training path uses them);
       - diffusers ModelMixin/ConfigMixin/register_to_config -> nn.Module / no-ops, and
         CausalWanModel.from_pretrained -> "build the tiny model and load our .pt";
       - einops (if missing), wan/__init__ + wan/modules/__init__ + pipeline/__init__
         (they import T5 / tokenizer / VAE / training code) are skipped by registering the
         packages by path; wan.modules.{t5,tokenizers,vae} and demo_utils.memory (calls
         torch.cuda at import) are replaced by empty placeholders;
       - the attention kernels (flash_attn needs CUDA; the SDPA fallback needs torch>=2 and
         casts to bf16) -> exact softmax(q k^T / sqrt(d)) v in the input dtype.
     In float64 mode WanRMSNorm.forward is also patched to skip its `x.float()` cast
     (that cast would otherwise round every RMSNorm to float32); the float32 run keeps
     upstream's RMSNorm untouched.
  2. Builds the upstream model with a tiny config and random weights, saves it as a Self
     Forcing style .pt ({'generator_ema': {'model.<name>': ...}, 'generator': ...}),
     converts it with tools/convert_checkpoint.py and loads the result into the reference.
  3. Compares (max abs / max rel errors):
       A. CausalInferencePipeline.inference itself (global attention, 4 blocks) vs Rollout;
       B. the same with local_attn_size 6 / sink_size 1 over 5 blocks.  Upstream hard-codes
          max_attention_size = local_attn_size * 1560 tokens; for the comparison that
          attribute is monkeypatched to local_attn_size * frame_seqlen on every block
          (= upstream's rolling-cache size, the value the 1560 stands for);
       C. a hand-driven loop (the pipeline's calls, same order) with a prompt change
          [0,0,1,1,0] (crossattn_cache reset on change) and, before each block, a
          side-effect-free probe with per-frame timesteps [1000, 600.5, 37] on a deep copy
          of the caches; global and window/sink;
       D. variant qk_norm=False, cross_attn_norm=False (Identity paths);
       E. float32 with upstream's RMSNorm untouched (expect ~1e-6, not ~1e-12).
     Also checks the scheduler table / warped step list bit for bit.
Upstream has no action module, so actions are absent on both sides.
"""

import argparse
import contextlib
import copy
import importlib
import inspect
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import types

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

import safetensors_io  # noqa: E402
import wan_causal as W  # noqa: E402
from make_fixtures import init_tiny_weights  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
CONVERTER = os.path.join(REPO, "tools", "convert_checkpoint.py")

TINY = {
    "model_type": "t2v", "patch_size": [1, 2, 2], "text_len": 8, "in_dim": 4, "dim": 64,
    "ffn_dim": 128, "freq_dim": 256, "text_dim": 32, "out_dim": 4, "num_heads": 2,
    "num_layers": 2, "qk_norm": True, "cross_attn_norm": True, "eps": 1e-6,
}
F_BLOCK, H_LAT, W_LAT = 3, 8, 8
STEPS = [1000, 750, 500, 250]
STUBBED = []


# --------------------------------------------------------------------------------------
# stubs
# --------------------------------------------------------------------------------------

def _module(name, **attrs):
    m = types.ModuleType(name)
    for k, v in attrs.items():
        setattr(m, k, v)
    sys.modules[name] = m
    return m


def _package_by_path(name, path):
    """Register package `name` without running its __init__.py."""
    m = types.ModuleType(name)
    m.__path__ = [path]
    m.__package__ = name
    sys.modules[name] = m
    STUBBED.append(f"{name}/__init__.py skipped (package registered by path)")
    return m


def _can_import(name):
    try:
        importlib.import_module(name)
        return True
    except Exception:  # noqa: BLE001
        return False


def install_stubs(upstream):
    sys.path.insert(0, upstream)
    if not hasattr(torch, "compile"):
        torch.compile = lambda fn=None, **kw: fn
        STUBBED.append("torch.compile -> identity (torch 1.13)")
    if not _can_import("torch.nn.attention.flex_attention"):
        class BlockMask:  # placeholder type
            pass

        def _unavailable(*a, **k):
            raise RuntimeError("flex_attention is not available (training path only)")
        _module("torch.nn.attention", __path__=[])
        _module("torch.nn.attention.flex_attention", BlockMask=BlockMask,
                create_block_mask=_unavailable, flex_attention=_unavailable)
        STUBBED.append("torch.nn.attention.flex_attention -> placeholders (training path only)")
    if not _can_import("diffusers"):
        class ConfigMixin:
            pass

        class ModelMixin(nn.Module):
            pass

        def register_to_config(fn):
            return fn
        _module("diffusers", __path__=[])
        _module("diffusers.configuration_utils", ConfigMixin=ConfigMixin, register_to_config=register_to_config)
        _module("diffusers.models", __path__=[])
        _module("diffusers.models.modeling_utils", ModelMixin=ModelMixin)
        STUBBED.append("diffusers ModelMixin/ConfigMixin/register_to_config -> nn.Module / no-ops")
    if not _can_import("einops"):
        def _no(*a, **k):
            raise RuntimeError("einops stub")
        _module("einops", repeat=_no, rearrange=_no)
        STUBBED.append("einops -> placeholder (not on the inference path)")
    _package_by_path("wan", os.path.join(upstream, "wan"))
    _package_by_path("wan.modules", os.path.join(upstream, "wan", "modules"))
    _package_by_path("pipeline", os.path.join(upstream, "pipeline"))

    class _Unused:
        def __init__(self, *a, **k):
            raise RuntimeError("placeholder: not needed for the DiT check")
    _module("wan.modules.tokenizers", HuggingfaceTokenizer=_Unused)
    _module("wan.modules.t5", umt5_xxl=_Unused)
    _module("wan.modules.vae", _video_vae=_Unused)
    _module("demo_utils.memory", gpu=torch.device("cpu"), get_cuda_free_memory_gb=lambda *a: 0.0,
            DynamicSwapInstaller=_Unused, move_model_to_device_with_memory_preservation=lambda *a, **k: None)
    STUBBED.append("wan.modules.{t5,tokenizers,vae}, demo_utils.memory -> placeholders (text encoder / VAE / GPU memory)")


def exact_attention(q, k, v, q_lens=None, k_lens=None, dropout_p=0.0, softmax_scale=None, q_scale=None,
                    causal=False, window_size=(-1, -1), deterministic=False, dtype=None, version=None,
                    fa_version=None):
    """softmax(q k^T * scale) v in the input dtype; q [B, Lq, N, D], k/v [B, Lk, N, D]."""
    assert q_lens is None and k_lens is None and not causal and tuple(window_size) == (-1, -1)
    assert dropout_p == 0.0 and q_scale is None
    scale = softmax_scale if softmax_scale is not None else 1.0 / math.sqrt(q.shape[-1])
    logits = torch.einsum("bqnd,bknd->bnqk", q, k) * scale
    return torch.einsum("bnqk,bknd->bqnd", torch.softmax(logits, dim=-1), v).type(q.dtype)


class Upstream:
    def __init__(self, upstream):
        install_stubs(upstream)
        self.cm = importlib.import_module("wan.modules.causal_model")
        self.mm = importlib.import_module("wan.modules.model")
        self.cm.attention = exact_attention
        self.mm.flash_attention = exact_attention
        STUBBED.append("attention kernels (causal_model.attention, model.flash_attention) -> exact softmax attention")
        self.scheduler_mod = importlib.import_module("utils.scheduler")
        self.wrapper_mod = importlib.import_module("utils.wan_wrapper")
        self.pipeline_mod = importlib.import_module("pipeline.causal_inference")
        self.CausalWanModel = self.cm.CausalWanModel
        self._orig_rms_forward = self.mm.WanRMSNorm.forward
        self._pending = None

        up = self

        def from_pretrained(cls, path, local_attn_size=-1, sink_size=0, **kw):
            m = up.build(up._pending["cfg"], local_attn_size, sink_size)
            m.load_state_dict(up._pending["state_dict"])
            return m
        self.CausalWanModel.from_pretrained = classmethod(from_pretrained)
        STUBBED.append("CausalWanModel.from_pretrained -> build tiny model + load_state_dict")

    def set_rmsnorm_native_dtype(self, on):
        mm = self.mm
        if on:
            def fwd(self_, x):
                return self_._norm(x) * self_.weight
            mm.WanRMSNorm.forward = fwd
        else:
            mm.WanRMSNorm.forward = self._orig_rms_forward

    def build(self, cfg, local_attn_size=-1, sink_size=0):
        sig = inspect.signature(self.CausalWanModel.__init__).parameters
        kwargs = {k: (tuple(v) if k == "patch_size" else v) for k, v in cfg.items() if k in sig}
        kwargs.update(local_attn_size=local_attn_size, sink_size=sink_size)
        return self.CausalWanModel(**kwargs).eval()

    def wrapper(self, cfg, state_dict, local_attn_size, sink_size, dtype):
        self._pending = {"cfg": cfg, "state_dict": state_dict}
        gen = self.wrapper_mod.WanDiffusionWrapper(model_name="tiny", timestep_shift=5.0, is_causal=True,
                                                   local_attn_size=local_attn_size, sink_size=sink_size)
        gen.model.to(dtype)
        return gen


# --------------------------------------------------------------------------------------
# drivers
# --------------------------------------------------------------------------------------

def make_caches(cfg, L, fs, dtype, num_layers):
    size = 32760 if L == -1 else L * fs  # as upstream's _initialize_kv_cache (1560 -> fs)
    n, d = cfg["num_heads"], cfg["dim"] // cfg["num_heads"]
    kv = [{"k": torch.zeros(1, size, n, d, dtype=dtype), "v": torch.zeros(1, size, n, d, dtype=dtype),
           "global_end_index": torch.tensor([0], dtype=torch.long),
           "local_end_index": torch.tensor([0], dtype=torch.long)} for _ in range(num_layers)]
    cross = [{"k": torch.zeros(1, cfg["text_len"], n, d, dtype=dtype),
              "v": torch.zeros(1, cfg["text_len"], n, d, dtype=dtype), "is_init": False}
             for _ in range(num_layers)]
    return kv, cross


def patch_max_attention(gen, L, fs):
    if L != -1:
        for blk in gen.model.blocks:
            blk.self_attn.max_attention_size = L * fs


def record_forwards(model):
    """Wrap upstream model._forward_inference to record (t, output) of every call."""
    rec = []
    orig = model._forward_inference

    def wrapped(*a, **k):
        out = orig(*a, **k)
        rec.append({"t": k.get("t").clone(), "v": out.clone()})
        return out
    model._forward_inference = wrapped
    return rec


def record_reference(ref):
    rec = []
    orig = ref.forward_block

    def wrapped(x, t, frame_start, context, actions=None, kv=None, commit=False):
        out = orig(x, t, frame_start, context, actions, kv, commit)
        rec.append({"t": torch.as_tensor(t).clone(), "v": out.clone(), "commit": commit})
        return out
    ref.forward_block = wrapped
    return rec


def draw_inputs(seed, num_blocks, cfg, dtype):
    g = torch.Generator().manual_seed(seed)
    C = cfg["in_dim"]
    prompts = [torch.randn(5, cfg["text_dim"], generator=g), torch.randn(8, cfg["text_dim"], generator=g)]
    start = torch.randn(1, num_blocks * F_BLOCK, C, H_LAT, W_LAT, generator=g)  # upstream (B, F, C, H, W)
    renoise = [[torch.randn(F_BLOCK, C, H_LAT, W_LAT, generator=g) for _ in range(len(STEPS) - 1)]
               for _ in range(num_blocks)]  # upstream randn_like order, (F, C, H, W)
    probes = [torch.randn(cfg["in_dim"], F_BLOCK, H_LAT, W_LAT, generator=g) for _ in range(num_blocks)]
    cast = (lambda t: t.to(dtype))
    return ([cast(p) for p in prompts], cast(start), [[cast(n) for n in b] for b in renoise],
            [cast(p) for p in probes])


def our_noise(start, renoise, b):
    """Per-block noise list in worldcast order (C, F, H, W): item 0 start, item i re-noise."""
    return [start[0, b * F_BLOCK:(b + 1) * F_BLOCK].permute(1, 0, 2, 3)] + \
           [n.permute(1, 0, 2, 3) for n in renoise[b]]


class Errors:
    def __init__(self):
        self.rows = []

    def add(self, label, ours, theirs):
        ours = ours.to(torch.float64)
        theirs = theirs.to(torch.float64)
        assert ours.shape == theirs.shape, (label, ours.shape, theirs.shape)
        d = (ours - theirs).abs().max().item()
        rel = d / max(theirs.abs().max().item(), 1e-300)
        self.rows.append((label, d, rel))
        return d

    def worst(self):
        return max(self.rows, key=lambda r: r[1])


def run_pipeline(up, cfg, sd, ref, L, S, num_blocks, dtype, seed, errs, tag, ours_loop=None):
    """A/B/D/E: upstream CausalInferencePipeline.inference vs our Rollout.
    ours_loop overrides our loop keys (negative controls)."""
    fs = (H_LAT // 2) * (W_LAT // 2)
    gen = up.wrapper(cfg, sd, L, S, dtype)
    patch_max_attention(gen, L, fs)
    args = types.SimpleNamespace(denoising_step_list=STEPS, warp_denoising_step=True,
                                 num_frame_per_block=F_BLOCK, independent_first_frame=False, context_noise=0)
    prompts, start, renoise, _ = draw_inputs(seed, num_blocks, cfg, dtype)

    class TextStub:
        def __call__(self, text_prompts):
            return {"prompt_embeds": prompts[0].unsqueeze(0)}

    class VaeStub:
        def decode_to_pixel(self, latent, use_cache=False):
            return latent

    with contextlib.redirect_stdout(io.StringIO()):
        pipe = up.pipeline_mod.CausalInferencePipeline(args, device="cpu", generator=gen,
                                                       text_encoder=TextStub(), vae=VaeStub())
    pipe.num_transformer_blocks = cfg["num_layers"]
    pipe.frame_seq_length = fs
    pipe.kv_cache1, pipe.crossattn_cache = make_caches(cfg, L, fs, dtype, cfg["num_layers"])
    rec_up = record_forwards(gen.model)

    queue = [n for b in renoise for n in b]
    orig_randn_like = torch.randn_like

    def fake_randn_like(t, *a, **k):
        n = queue.pop(0)
        assert n.shape == t.shape, (n.shape, t.shape)
        return n.to(t.dtype).clone()
    torch.randn_like = fake_randn_like
    try:
        with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
            _, latents = pipe.inference(noise=start, text_prompts=["tiny"], return_latents=True)
    finally:
        torch.randn_like = orig_randn_like
    assert not queue

    rec_ref = record_reference(ref)
    loop = {"local_attn_size": L, "sink_size": S, "num_frame_per_block": F_BLOCK}
    loop.update(ours_loop or {})
    ro = W.Rollout(ref, config=loop)
    for b in range(num_blocks):
        x0 = ro.run_block(our_noise(start, renoise, b), prompts[0])
        errs.add(f"{tag} block {b} x0", x0, latents[0, b * F_BLOCK:(b + 1) * F_BLOCK].permute(1, 0, 2, 3))
    del ref.forward_block
    assert len(rec_ref) == len(rec_up) == num_blocks * (len(STEPS) + 1), (len(rec_ref), len(rec_up))
    worst = 0.0
    for i, (a, b) in enumerate(zip(rec_ref, rec_up)):
        assert torch.equal(a["t"].to(torch.float64), b["t"].reshape(-1).to(torch.float64)), (i, a["t"], b["t"])
        worst = max(worst, errs.add(f"{tag} forward {i} v{' (commit)' if a['commit'] else ''}", a["v"], b["v"][0]))
    return pipe


def run_manual(up, cfg, sd, ref, L, S, prompt_per_block, dtype, seed, errs, tag):
    """C: the pipeline's calls driven by hand, with prompt changes and per-frame-t probes."""
    fs = (H_LAT // 2) * (W_LAT // 2)
    nb = len(prompt_per_block)
    gen = up.wrapper(cfg, sd, L, S, dtype)
    patch_max_attention(gen, L, fs)
    sched = gen.get_scheduler()
    steps = torch.cat((sched.timesteps.cpu(), torch.tensor([0], dtype=torch.float32)))[
        1000 - torch.tensor(STEPS, dtype=torch.long)]
    kv, cross = make_caches(cfg, L, fs, dtype, cfg["num_layers"])
    prompts, start, renoise, probes = draw_inputs(seed, nb, cfg, dtype)
    probe_t = torch.tensor([[1000.0, 600.5, 37.0]], dtype=torch.float32)

    ro = W.Rollout(ref, config={"local_attn_size": L, "sink_size": S, "num_frame_per_block": F_BLOCK})
    cur_prompt = None
    with torch.no_grad():
        for b in range(nb):
            p = prompt_per_block[b]
            if p != cur_prompt:
                for c in cross:
                    c["is_init"] = False
                cur_prompt = p
            cond = {"prompt_embeds": prompts[p].unsqueeze(0)}
            cs = b * F_BLOCK * fs
            # probe on copies of the caches (side-effect free)
            pv, _ = gen(noisy_image_or_video=probes[b].permute(1, 0, 2, 3).unsqueeze(0), conditional_dict=cond,
                        timestep=probe_t, kv_cache=copy.deepcopy(kv), crossattn_cache=copy.deepcopy(cross),
                        current_start=cs)
            ours = ro.probe(probes[b], probe_t[0].to(torch.float64), prompts[p])
            errs.add(f"{tag} block {b} probe v", ours, pv[0].permute(1, 0, 2, 3))
            # the block, as pipeline/causal_inference.py runs it
            x = start[:, b * F_BLOCK:(b + 1) * F_BLOCK]
            for i, tv in enumerate(steps):
                t = torch.ones([1, F_BLOCK], dtype=torch.int64) * tv
                _, x0 = gen(noisy_image_or_video=x, conditional_dict=cond, timestep=t, kv_cache=kv,
                            crossattn_cache=cross, current_start=cs)
                if i + 1 < len(steps):
                    x = sched.add_noise(x0.flatten(0, 1), renoise[b][i].to(x0.dtype),
                                        steps[i + 1] * torch.ones([F_BLOCK], dtype=torch.long)).unflatten(0, x0.shape[:2])
            gen(noisy_image_or_video=x0, conditional_dict=cond, timestep=torch.ones_like(t) * 0, kv_cache=kv,
                crossattn_cache=cross, current_start=cs)
            ours_x0 = ro.run_block(our_noise(start, renoise, b), prompts[p])
            errs.add(f"{tag} block {b} x0", ours_x0, x0[0].permute(1, 0, 2, 3))
    return ro


def check_schedule(up):
    s_up = up.scheduler_mod.FlowMatchScheduler(shift=5.0, sigma_min=0.0, extra_one_step=True)
    s_up.set_timesteps(1000, training=True)
    ours = W.FlowMatchSchedule(5.0, 1000, STEPS, True)
    same_table = torch.equal(ours.sigmas, s_up.sigmas) and torch.equal(ours.timesteps, s_up.timesteps)
    warped = torch.cat((s_up.timesteps, torch.tensor([0], dtype=torch.float32)))[1000 - torch.tensor(STEPS)]
    same_steps = [float(v) for v in warped] == ours.steps
    idx = [int(torch.argmin((s_up.timesteps.unsqueeze(0) - warped[i:i + 1].unsqueeze(1)).abs(), dim=1))
           for i in range(len(STEPS))]
    same_sig = [float(s_up.sigmas[i]) for i in idx] == ours.step_sigmas
    print(f"schedule: table identical={same_table}, warped steps identical={same_steps} {ours.steps}, "
          f"step sigmas identical={same_sig} {ours.step_sigmas}")
    return same_table and same_steps and same_sig


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True, help="path of a Self-Forcing checkout (work tree)")
    ap.add_argument("--tol64", type=float, default=1e-10, help="max abs error allowed in float64")
    ap.add_argument("--tol32", type=float, default=1e-4, help="max abs error allowed in float32")
    args = ap.parse_args()

    up = Upstream(os.path.abspath(args.upstream))
    print("stubbed for torch", torch.__version__, "/ CPU:")
    for s in STUBBED:
        print("  -", s)
    ok = check_schedule(up)

    tmp = tempfile.mkdtemp(prefix="wc_check_")
    results = []

    def prepare(cfg, seed):
        """Upstream model with random weights -> .pt -> converter -> our model dir."""
        torch.manual_seed(seed)
        m = up.build(cfg)
        init_tiny_weights(m, seed)
        sd = {k: v.detach().clone() for k, v in m.state_dict().items()}
        d = os.path.join(tmp, f"seed{seed}")
        os.makedirs(d, exist_ok=True)
        decoy = {k: torch.zeros_like(v) for k, v in sd.items()}
        ema = {"model." + k: v for k, v in sd.items()}
        ema["_cls_pred_branch.1.weight"] = torch.zeros(4, 4)  # wrapper-level extra (GAN head)
        torch.save({"generator": {"model." + k: v for k, v in decoy.items()}, "generator_ema": ema},
                   os.path.join(d, "ckpt.pt"))
        up_cfg = {"_class_name": "CausalWanModel", "_diffusers_version": "0.31.0"}
        up_cfg.update({k: cfg[k] for k in ("model_type", "text_len", "in_dim", "dim", "ffn_dim", "freq_dim",
                                           "out_dim", "num_heads", "num_layers", "eps")})
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(up_cfg, f)
        out = os.path.join(d, "wc")
        r = subprocess.run([sys.executable, CONVERTER, os.path.join(d, "ckpt.pt"), "--config",
                            os.path.join(d, "config.json"), "--out", out, "--dtype", "f32"],
                           capture_output=True, text=True)
        print(f"convert_checkpoint.py (qk_norm={cfg['qk_norm']}, cross_attn_norm={cfg['cross_attn_norm']}):")
        print("    " + (r.stdout + r.stderr).strip().replace("\n", "\n    "))
        if r.returncode != 0:
            raise SystemExit("conversion failed")
        conv = safetensors_io.load_file(os.path.join(out, "model.safetensors"))
        assert set(conv) == set(sd) and all(torch.equal(conv[k], sd[k]) for k in sd), "converted weights differ"
        return sd, out

    sd, out = prepare(TINY, 7)
    specs = [
        ("A pipeline global", "pipe", TINY, sd, out, -1, 0, 4, torch.float64, True),
        ("B pipeline window L=6 S=1", "pipe", TINY, sd, out, 6, 1, 5, torch.float64, True),
        ("C manual prompt-change+probes global", "manual", TINY, sd, out, -1, 0, [0, 0, 1, 1, 0], torch.float64, True),
        ("C manual prompt-change+probes L=6 S=1", "manual", TINY, sd, out, 6, 1, [0, 1, 1, 0, 0], torch.float64, True),
        ("E pipeline global float32 (upstream RMSNorm as is)", "pipe", TINY, sd, out, -1, 0, 4, torch.float32, False),
    ]
    cfg_d = dict(TINY, qk_norm=False, cross_attn_norm=False)
    sd_d, out_d = prepare(cfg_d, 11)
    specs.insert(4, ("D pipeline qk_norm=False cross_attn_norm=False", "pipe", cfg_d, sd_d, out_d, -1, 0, 3,
                     torch.float64, True))

    for label, kind, cfg, sdx, outx, L, S, blocks, dtype, native in specs:
        up.set_rmsnorm_native_dtype(native and dtype == torch.float64)
        ref = W.load_model(outx, dtype=dtype)
        errs = Errors()
        seed = 100 + len(results)
        if kind == "pipe":
            run_pipeline(up, cfg, sdx, ref, L, S, blocks, dtype, seed, errs, label.split()[0])
        else:
            run_manual(up, cfg, sdx, ref, L, S, blocks, dtype, seed, errs, label.split()[0])
        lab, d, rel = errs.worst()
        x0_rows = [r for r in errs.rows if "x0" in r[0]]
        tol = args.tol64 if dtype == torch.float64 else args.tol32
        passed = d <= tol
        ok = ok and passed
        results.append((label, len(errs.rows), d, rel, max(r[1] for r in x0_rows), passed))
        print(f"{label}: {len(errs.rows)} tensors compared, max abs {d:.3e} (max rel {rel:.3e}, at '{lab}'), "
              f"max abs on x0 {max(r[1] for r in x0_rows):.3e} -> {'OK' if passed else 'FAIL'}")
    # negative controls: the comparison must notice a wrong KV selection
    up.set_rmsnorm_native_dtype(True)
    for label, ours_loop in (("global instead of window", {"local_attn_size": -1, "sink_size": 0}),
                             ("no sink (S=0, L=5)", {"local_attn_size": 5, "sink_size": 0})):
        errs = Errors()
        run_pipeline(up, TINY, sd, W.load_model(out), 6, 1, 5, torch.float64, 101, errs, "N", ours_loop)
        d = errs.worst()[1]
        sensitive = d > 1e-3
        ok = ok and sensitive
        print(f"negative control (upstream L=6 S=1, ours {label}): max abs {d:.3e} -> "
              f"{'differs as it must' if sensitive else 'FAIL: comparison is blind'}")
    up.set_rmsnorm_native_dtype(False)
    print("RESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
