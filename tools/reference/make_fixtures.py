#!/usr/bin/python3
"""Generate worldcast's tiny test checkpoints and golden tensors (deterministic; overwrites).

    /usr/bin/python3 tools/reference/make_fixtures.py [--out test/fixtures]

Writes
    tiny/{config.json,model.safetensors}        random tiny CausalWanModel, F32
    tiny_bf16/..., tiny_f16/...                 the same weights stored as BF16 / F16
    golden/cases.json, golden/<case>.safetensors
Goldens are computed with the reference (wan_causal.py) in float64 from the F32 weights
as stored; inputs/noise are drawn as float32; every stored tensor is F32.
See tools/README.md for the tensor naming.
"""

import argparse
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import safetensors_io  # noqa: E402
import wan_causal as W  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

TINY_CONFIG = {
    "_class_name": "CausalWanModel",
    "model_type": "t2v",
    "patch_size": [1, 2, 2],
    "text_len": 8,
    "in_dim": 4,
    "dim": 64,
    "ffn_dim": 128,
    "freq_dim": 256,
    "text_dim": 32,
    "out_dim": 4,
    "num_heads": 2,
    "num_layers": 2,
    "window_size": [-1, -1],
    "qk_norm": True,
    "cross_attn_norm": True,
    "eps": 1e-6,
    "num_frame_per_block": 3,
    "local_attn_size": -1,
    "sink_size": 0,
    "denoising_step_list": [1000, 750, 500, 250],
    "warp_denoising_step": True,
    "timestep_shift": 5.0,
    "num_train_timesteps": 1000,
    "context_noise": 0,
    "latent_height": 8,
    "latent_width": 8,
    "action": {
        "mode": "additive",
        "keys": ["w", "a", "s", "d", "space"],
        "mouse": [{"name": "dx", "min": -1, "max": 1}, {"name": "dy", "min": -1, "max": 1}],
    },
    "decoder": None,
}

WEIGHT_SEED = 20240601
PROBE_T = [1000.0, 600.5, 37.0]  # distinct per-frame timesteps (float32-exact)
PROMPT_LENS = [5, 8]  # prompt 0 is shorter than text_len (zero rows), prompt 1 is full

CASES = [
    # name, local_attn_size, sink_size, prompt per block, index of the all-zero-action block,
    # frames per block (None: the config's; else the engine's `blockFrames` load option)
    ("rollout_global", -1, 0, [0, 0, 0, 0], 2, None),
    ("window_sink", 6, 1, [0, 0, 0, 0, 0], 3, None),
    ("prompt_change", -1, 0, [0, 0, 1, 1, 0], 1, None),
    ("blocks_of_one", 6, 1, [0, 0, 0, 0, 0, 0, 0, 1, 1], 4, 1),
    # a list: the block size of each block, in one session of the config's blocks that
    # takes blocks down to the smallest of them (the engine's minBlockFrames + step({frames}))
    ("mixed_blocks", 6, 1, [0, 0, 0, 0, 1, 1, 0, 0, 0], 5, [1, 1, 3, 2, 1, 3, 3, 1, 2]),
]


def init_tiny_weights(model, seed):
    """Random weights with sane scale: outputs O(1), nothing degenerate."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if name.endswith("modulation"):
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[-1] ** 0.5)
            elif leaf == "weight" and p.dim() >= 2:  # Linear / Conv3d
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
            elif leaf == "weight":  # RMSNorm / affine LayerNorm
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            elif leaf == "bias":
                p.copy_(0.02 * torch.randn(p.shape, generator=g))
            else:
                raise RuntimeError(f"unhandled parameter {name}")


def write_model_dir(path, config, state_dict, dtype):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    safetensors_io.save_file(state_dict, os.path.join(path, "model.safetensors"), dtype=dtype,
                             metadata={"format": "pt", "source": "worldcast tools/reference/make_fixtures.py"})


def make_case(model, cfg, case_index, name, L, S, prompts_per_block, zero_block, block_frames=None):
    g = torch.Generator().manual_seed(1000 + case_index)
    sizes = block_frames if isinstance(block_frames, list) else None
    if sizes:
        assert len(sizes) == len(prompts_per_block)
        block_frames = None
    C, F = cfg["in_dim"], block_frames or cfg["num_frame_per_block"]
    H, Wd = cfg["latent_height"], cfg["latent_width"]
    n_act = W.action_dim(cfg["action"])
    n_keys = len(cfg["action"]["keys"])
    steps = len(cfg["denoising_step_list"])

    tensors = {}
    prompts = []
    for p, ln in enumerate(PROMPT_LENS):
        prompts.append(torch.randn(ln, cfg["text_dim"], generator=g))
        tensors[f"prompt.{p}"] = prompts[-1]

    over = {"local_attn_size": L, "sink_size": S}
    if block_frames:
        over["num_frame_per_block"] = block_frames
    rollout = W.Rollout(model, config=over, min_frames=min(sizes) if sizes else None)
    blocks_meta = []
    for b, p in enumerate(prompts_per_block):
        if sizes:
            F = sizes[b]
        if b == zero_block:
            actions = torch.zeros(F, n_act)
        else:
            keys = (torch.rand(F, n_keys, generator=g) < 0.5).float()
            mouse = torch.rand(F, n_act - n_keys, generator=g) * 2 - 1
            actions = torch.cat([keys, mouse], dim=1)
        noise = [torch.randn(C, F, H, Wd, generator=g) for _ in range(steps)]
        probe_x = torch.randn(C, F, H, Wd, generator=g)
        probe_t = torch.tensor(PROBE_T[:F], dtype=torch.float64)
        attended = rollout.kv.select(rollout.frame, F)
        held = rollout.kv.committed_frames
        frame_start = rollout.frame

        tensors[f"block.{b}.actions"] = actions
        for i in range(steps):
            tensors[f"block.{b}.noise.{i}"] = noise[i]
        probe_v = rollout.probe(probe_x, probe_t, prompts[p], actions)
        tensors[f"block.{b}.probe.x"] = probe_x
        tensors[f"block.{b}.probe.t"] = probe_t
        tensors[f"block.{b}.probe.v"] = probe_v
        trace = []
        x0 = rollout.run_block(noise, prompts[p], actions, trace=trace)
        for i, fw in enumerate(trace):
            tensors[f"block.{b}.fwd.{i}.x"] = fw["x"]
            tensors[f"block.{b}.fwd.{i}.t"] = fw["t"]
            tensors[f"block.{b}.fwd.{i}.v"] = fw["v"]
        tensors[f"block.{b}.x0"] = x0
        blocks_meta.append({"prompt": p, "steps": steps, "probe": True, "frame_start": frame_start, "frames": F, "held_frames": held,
                            "attended_frames": attended, "zero_actions": b == zero_block})
        print(f"  {name} block {b}: frames {frame_start}..{frame_start + F - 1} attends {attended} "
              f"prompt {p}  |v0|={trace[0]['v'].std():.3f} |x0|={x0.std():.3f} |probe v|={probe_v.std():.3f}")

    assert rollout.kv.cross_recomputes == 1 + sum(
        1 for a, b in zip(prompts_per_block, prompts_per_block[1:]) if a != b)
    tensors = {k: v.to(torch.float32) for k, v in tensors.items()}
    meta = {"name": name, "file": f"{name}.safetensors", "local_attn_size": L, "sink_size": S,
            "block_frames": block_frames,
            "block_sizes": sizes,
            "num_blocks": len(prompts_per_block),
            "prompts": [{"index": i, "len": ln} for i, ln in enumerate(PROMPT_LENS)],
            "blocks": blocks_meta}
    return meta, tensors


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "test", "fixtures"))
    args = ap.parse_args()
    torch.manual_seed(0)

    cfg = TINY_CONFIG
    model = W.CausalWanModel(cfg)
    init_tiny_weights(model, WEIGHT_SEED)
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for sub, dt in (("tiny", "F32"), ("tiny_bf16", "BF16"), ("tiny_f16", "F16")):
        write_model_dir(os.path.join(args.out, sub), cfg, sd, dt)
        print(f"wrote {sub}/ ({dt}, {len(sd)} tensors, {sum(v.numel() for v in sd.values())} params)")

    # goldens: reload the stored F32 weights and compute in float64
    ref = W.load_model(os.path.join(args.out, "tiny"), dtype=torch.float64)
    sched = W.FlowMatchSchedule.from_config(cfg)
    gdir = os.path.join(args.out, "golden")
    os.makedirs(gdir, exist_ok=True)
    cases = []
    for ci, (name, L, S, ppb, zb, bf) in enumerate(CASES):
        meta, tensors = make_case(ref, cfg, ci, name, L, S, ppb, zb, bf)
        safetensors_io.save_file(tensors, os.path.join(gdir, meta["file"]), dtype="F32",
                                 metadata={"case": name, "computed_in": "float64"})
        cases.append(meta)
    doc = {
        "model": "tiny",
        "computed_in": "float64",
        "stored_as": "F32",
        "latent_layout": "C,F,H,W",
        "schedule": {"steps": sched.steps, "sigmas": sched.step_sigmas,
                     "note": "float32 values of upstream's table (timesteps[1000-step], sigmas[...])"},
        "probe_t": PROBE_T,
        "cases": cases,
    }
    with open(os.path.join(gdir, "cases.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    total = 0
    for root, _, files in os.walk(args.out):
        for fn in files:
            total += os.path.getsize(os.path.join(root, fn))
    print(f"fixtures total {total} bytes under {args.out}")


if __name__ == "__main__":
    main()
