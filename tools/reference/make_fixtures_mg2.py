#!/usr/bin/python3
"""Tiny Matrix-Game 2.0-structured checkpoint + golden rollout (deterministic; overwrites).

    /usr/bin/python3 tools/reference/make_fixtures_mg2.py [--out test/fixtures]

Writes
    mg2_tiny/{config.json,model.safetensors}   random tiny model with MG2's structure: i2v input
        (x 4 ch ‖ mask 4 ch ‖ image latent 4 ch = in_dim 12, the upstream concat layout scaled
        down from 16 ‖ 4 ‖ 16), CLIP-style context (5 tokens × 16 through img_emb), the action
        module (keyboard 4 keys, mouse 2 axes) in blocks 0 and 2 of 3, local_attn_size 6,
        MG2's schedule [1000, 666, 333] warped at shift 5
    golden/mg2_rollout.safetensors + golden/mg2_cases.json
Goldens come from tools/reference/matrix_game.py in float64 (F32 weights as stored); every
stored tensor is F32. Tensor names: image_latent, clip, block.<b>.actions (per VIDEO frame:
9 for block 0, 12 after), block.<b>.noise.<i>, block.<b>.fwd.<i>.{x,t,v} (each denoising
forward), block.<b>.probe.{x,t,v} (per-frame timesteps), block.<b>.x0.
"""

import argparse
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import make_fixtures as MF  # noqa: E402
import matrix_game as MG  # noqa: E402
import safetensors_io  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

TINY_MG2 = {
    "_class_name": "CausalWanModel",
    "model_type": "i2v",
    "patch_size": [1, 2, 2],
    "text_len": 512,  # upstream's value; unused by its i2v model (the context is clip_len tokens)
    "in_dim": 12,
    "dim": 64,
    "ffn_dim": 128,
    "freq_dim": 256,
    "out_dim": 4,
    "num_heads": 2,
    "num_layers": 3,
    "qk_norm": True,
    "cross_attn_norm": True,
    "eps": 1e-6,
    "clip_dim": 16,
    "clip_len": 5,
    "image_latent": {"channels": 4, "mask_channels": 4},
    "action_config": {
        "blocks": [0, 2],
        "enable_keyboard": True,
        "enable_mouse": True,
        "heads_num": 2,
        "hidden_size": 8,
        "img_hidden_size": 64,
        "keyboard_dim_in": 4,
        "keyboard_hidden_dim": 32,
        "mouse_dim_in": 2,
        "mouse_hidden_dim": 32,
        "mouse_qk_dim_list": [4, 6, 6],
        "patch_size": [1, 2, 2],
        "qk_norm": True,
        "qkv_bias": False,
        "rope_dim_list": [4, 6, 6],
        "rope_theta": 256,
        "vae_time_compression_ratio": 4,
        "windows_size": 3,
    },
    "action": {
        "mode": "matrix_game",
        "keys": ["w", "s", "a", "d"],
        "mouse": [{"name": "pitch", "min": -1, "max": 1}, {"name": "yaw", "min": -1, "max": 1}],
    },
    "num_frame_per_block": 3,
    "local_attn_size": 6,
    "sink_size": 0,
    "denoising_step_list": [1000, 666, 333],
    "warp_denoising_step": True,
    "timestep_shift": 5.0,
    "num_train_timesteps": 1000,
    "context_noise": 0,
    "latent_height": 8,
    "latent_width": 8,
    "decoder": None,
}

WEIGHT_SEED = 20250811
NUM_BLOCKS = 4
PROBE_T = [1000.0, 600.5, 37.0]


def check_windows():
    """action_windows() == a literal transcription of upstream's slicing, for both of its paths."""
    r, ws, F = 4, 3, 3
    for nblocks in range(1, 6):
        n_feats = F * nblocks
        cond = torch.randn(1 + r * (n_feats - 1), 6, dtype=torch.float64)
        ours = MG.action_windows(cond, n_feats - F, F, r, ws)
        assert torch.equal(ours, MG.upstream_style_windows(cond, n_feats, F, r, ws, cached=True))
        whole = MG.upstream_style_windows(cond, n_feats, F, r, ws, cached=False)
        assert torch.equal(MG.action_windows(cond, 0, n_feats, r, ws), whole)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "test", "fixtures"))
    args = ap.parse_args()
    check_windows()
    torch.manual_seed(0)
    cfg = TINY_MG2
    model = MG.MatrixGameModel(cfg)
    MF.init_tiny_weights(model, WEIGHT_SEED)
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    MF.write_model_dir(os.path.join(args.out, "mg2_tiny"), cfg, sd, "F32")
    print(f"wrote mg2_tiny/ ({len(sd)} tensors, {sum(v.numel() for v in sd.values())} params)")

    ref = MG.load_model(os.path.join(args.out, "mg2_tiny"))
    g = torch.Generator().manual_seed(77)
    C, F, H, Wd = cfg["out_dim"], cfg["num_frame_per_block"], cfg["latent_height"], cfg["latent_width"]
    ic = cfg["image_latent"]["channels"]
    image_latent = torch.randn(ic, 2, H, Wd, generator=g)  # frame 0: the image; frame 1: the filler after it
    clip = torch.randn(cfg["clip_len"], cfg["clip_dim"], generator=g)
    t = {"image_latent": image_latent, "clip": clip}
    ro = MG.MGRollout(ref, image_latent.double(), clip.double())
    steps = len(ro.schedule.steps)
    blocks = []
    for b in range(NUM_BLOCKS):
        n_video = ro.video_frames()
        keys = (torch.rand(n_video, 4, generator=g) < 0.4).float()
        mouse = (torch.rand(n_video, 2, generator=g) * 2 - 1) * 0.5
        acts = torch.cat([keys, mouse], dim=1)
        noise = [torch.randn(C, F, H, Wd, generator=g) for _ in range(steps)]
        px = torch.randn(C, F, H, Wd, generator=g)
        pt = torch.tensor(PROBE_T, dtype=torch.float64)
        t[f"block.{b}.actions"] = acts
        for i in range(steps):
            t[f"block.{b}.noise.{i}"] = noise[i]
        t[f"block.{b}.probe.x"] = px
        t[f"block.{b}.probe.t"] = pt
        t[f"block.{b}.probe.v"] = ro.probe(px.double(), pt, acts)
        trace = []
        start = ro.frame
        x0 = ro.run_block([n.double() for n in noise], acts, trace=trace)
        for i, fw in enumerate(trace):
            t[f"block.{b}.fwd.{i}.x"] = fw["x"]
            t[f"block.{b}.fwd.{i}.t"] = fw["t"]
            t[f"block.{b}.fwd.{i}.v"] = fw["v"]
        t[f"block.{b}.x0"] = x0
        blocks.append({"frame_start": start, "video_frames": n_video, "steps": steps})
        print(f"  block {b}: frames {start}..{start + F - 1}, {n_video} video-frame actions, "
              f"|v0|={trace[0]['v'].std():.3f} |x0|={x0.std():.3f}")
    gdir = os.path.join(args.out, "golden")
    os.makedirs(gdir, exist_ok=True)
    safetensors_io.save_file({k: v.to(torch.float32) for k, v in t.items()},
                             os.path.join(gdir, "mg2_rollout.safetensors"), dtype="F32",
                             metadata={"case": "mg2_rollout", "computed_in": "float64"})
    doc = {"model": "mg2_tiny", "file": "mg2_rollout.safetensors", "computed_in": "float64",
           "schedule": {"steps": ro.schedule.steps, "sigmas": ro.schedule.step_sigmas},
           "probe_t": PROBE_T, "blocks": blocks}
    with open(os.path.join(gdir, "mg2_cases.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    for p in (os.path.join(args.out, "mg2_tiny", "model.safetensors"), os.path.join(gdir, "mg2_rollout.safetensors")):
        print(f"{os.path.relpath(p, REPO)}: {os.path.getsize(p)} bytes")


if __name__ == "__main__":
    main()
