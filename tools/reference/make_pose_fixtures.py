#!/usr/bin/python3
"""Fixtures for models that take the character's pose as action channels (config
`action.pose`, wan_causal.pose_features): the tiny model with pose features and goldens of
a rollout driven by poses. Deterministic; overwrites.

    /usr/bin/python3 tools/reference/make_pose_fixtures.py [--out test/fixtures]

Writes
    tiny_pose/{config.json,model.safetensors}   the tiny CausalWanModel of make_fixtures.py
                                                with `action.pose` (26-wide action vectors)
    golden/pose.json                            poses -> features (pose_features, float32)
    golden/pose_rollout.safetensors             3 blocks: per-frame poses, the encoded
                                                action vectors, the noise and x0 (float64
                                                reference, stored F32); block 1 has no pose
"""

import argparse
import json
import math
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import make_fixtures as MF  # noqa: E402
import safetensors_io  # noqa: E402
import wan_causal as W  # noqa: E402

POSE = {"extent": 12.0, "height": 3.0, "frequencies": [1, 2]}
CONFIG = dict(MF.TINY_CONFIG, action=dict(MF.TINY_CONFIG["action"], pose=POSE))
# hand-picked poses: the origin, the corners and the edges of the level, yaw at +-pi, pitch both ways
POSES = [
    [0, 0, 0, 0, 0],
    [11.5, 0, -11.5, math.pi, -0.3],
    [-11.5, 2.5, 11.5, -math.pi, 0.35],
    [4.25, 0.125, -3.75, 1.25, 0.1],
    [-7.0, 0.0, 2.0, -2.5, -0.05],
    [12.0, 0.0, 12.0, math.pi / 2, 0],
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(MF.REPO, "test", "fixtures"))
    args = ap.parse_args()
    cfg = CONFIG
    model = W.CausalWanModel(cfg)
    MF.init_tiny_weights(model, MF.WEIGHT_SEED + 7)
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    MF.write_model_dir(os.path.join(args.out, "tiny_pose"), cfg, sd, "F32")
    gdir = os.path.join(args.out, "golden")
    os.makedirs(gdir, exist_ok=True)

    feats = W.pose_features(POSE, np.array(POSES, np.float64))
    with open(os.path.join(gdir, "pose.json"), "w") as f:
        json.dump({"pose": POSE, "layout": "x, y, z, yaw, pitch", "poses": POSES,
                   "features": [[float(v) for v in row] for row in feats]}, f, indent=1)
        f.write("\n")

    ref = W.load_model(os.path.join(args.out, "tiny_pose"), dtype=torch.float64)
    g = torch.Generator().manual_seed(4242)
    C, F = cfg["in_dim"], cfg["num_frame_per_block"]
    H, Wd = cfg["latent_height"], cfg["latent_width"]
    n_keys, n_mouse = len(cfg["action"]["keys"]), len(cfg["action"]["mouse"])
    steps = len(cfg["denoising_step_list"])
    prompt = torch.randn(5, cfg["text_dim"], generator=g)
    tensors = {"prompt": prompt}
    rollout = W.Rollout(ref, config={"local_attn_size": -1, "sink_size": 0})
    for b in range(3):
        keys = (torch.rand(F, n_keys, generator=g) < 0.5).double()
        mouse = torch.rand(F, n_mouse, generator=g).double() * 2 - 1
        poses = torch.rand(F, 5, generator=g).double() * torch.tensor([24, 1, 24, 2 * math.pi, 0.8], dtype=torch.float64) \
            - torch.tensor([12, 0, 12, math.pi, 0.4], dtype=torch.float64)
        poses = poses.float().double()  # the poses as the test passes them (float32-exact)
        pf = torch.from_numpy(W.pose_features(POSE, poses.numpy())).double()
        if b == 1:
            pf.zero_()  # no pose given: all-zero features
        actions = torch.cat([keys, mouse.float().double(), pf], dim=1)
        noise = [torch.randn(C, F, H, Wd, generator=g) for _ in range(steps)]
        x0 = rollout.run_block(noise, prompt, actions)
        tensors[f"block.{b}.keys"] = keys
        tensors[f"block.{b}.mouse"] = mouse
        tensors[f"block.{b}.poses"] = poses
        tensors[f"block.{b}.actions"] = actions
        for i in range(steps):
            tensors[f"block.{b}.noise.{i}"] = noise[i]
        tensors[f"block.{b}.x0"] = x0
        print(f"  block {b}: |x0| = {x0.std():.3f}")
    tensors = {k: v.to(torch.float32) for k, v in tensors.items()}
    safetensors_io.save_file(tensors, os.path.join(gdir, "pose_rollout.safetensors"), dtype="F32",
                             metadata={"case": "pose_rollout", "computed_in": "float64"})
    print(f"wrote tiny_pose/, golden/pose.json, golden/pose_rollout.safetensors under {args.out}")


if __name__ == "__main__":
    main()
