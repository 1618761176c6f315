#!/usr/bin/python3
"""Fixtures for models that take the level's geometry in view (config `action.geometry`:
a [channels, H, W] map per frame at the end of each action row, concatenated after the
latents as input channels). Deterministic; overwrites.

    /usr/bin/python3 tools/reference/make_geometry_fixtures.py [--out test/fixtures]

Writes
    tiny_geometry/{config.json,model.safetensors}  the tiny CausalWanModel of make_fixtures.py
                                                   with `action.geometry` (8 channels,
                                                   in_dim 4 + 8) on 6x8 latents (H != W)
    golden/geometry_rollout.safetensors            3 blocks: keys, mouse, the geometry maps
                                                   [F, 8, 6, 8], the action rows, the noise
                                                   and x0 (float64 reference, stored F32);
                                                   block 1 has no map (all zero)
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import make_fixtures as MF  # noqa: E402
import safetensors_io  # noqa: E402
import wan_causal as W  # noqa: E402

GEOMETRY = {"channels": 8, "samples": 2, "near": 5.0}  # the game server's renderGeometry channels
CONFIG = dict(MF.TINY_CONFIG, in_dim=MF.TINY_CONFIG["out_dim"] + GEOMETRY["channels"], latent_height=6,
              latent_width=8, action=dict(MF.TINY_CONFIG["action"], geometry=GEOMETRY))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(MF.REPO, "test", "fixtures"))
    args = ap.parse_args()
    cfg = CONFIG
    model = W.CausalWanModel(cfg)
    MF.init_tiny_weights(model, MF.WEIGHT_SEED + 11)
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    MF.write_model_dir(os.path.join(args.out, "tiny_geometry"), cfg, sd, "F32")
    gdir = os.path.join(args.out, "golden")
    os.makedirs(gdir, exist_ok=True)

    ref = W.load_model(os.path.join(args.out, "tiny_geometry"), dtype=torch.float64)
    g = torch.Generator().manual_seed(5151)
    C, F = cfg["out_dim"], cfg["num_frame_per_block"]
    H, Wd, G = cfg["latent_height"], cfg["latent_width"], GEOMETRY["channels"]
    n_keys, n_mouse = len(cfg["action"]["keys"]), len(cfg["action"]["mouse"])
    steps = len(cfg["denoising_step_list"])
    prompt = torch.randn(5, cfg["text_dim"], generator=g)
    tensors = {"prompt": prompt}
    rollout = W.Rollout(ref, config={"local_attn_size": -1, "sink_size": 0})
    for b in range(3):
        keys = (torch.rand(F, n_keys, generator=g) < 0.5).double()
        mouse = (torch.rand(F, n_mouse, generator=g) * 2 - 1).float().double()
        geo = torch.rand(F, G, H, Wd, generator=g).float().double()
        if b == 1:
            geo.zero_()  # no map given: all zero
        actions = torch.cat([keys, mouse, geo.reshape(F, -1)], dim=1)
        assert actions.shape[1] == W.action_row(cfg["action"], H, Wd)
        noise = [torch.randn(C, F, H, Wd, generator=g) for _ in range(steps)]
        x0 = rollout.run_block(noise, prompt, actions)
        tensors[f"block.{b}.keys"] = keys
        tensors[f"block.{b}.mouse"] = mouse
        tensors[f"block.{b}.geometry"] = geo
        tensors[f"block.{b}.actions"] = actions
        for i in range(steps):
            tensors[f"block.{b}.noise.{i}"] = noise[i]
        tensors[f"block.{b}.x0"] = x0
        print(f"  block {b}: |x0| = {x0.std():.3f}")
    tensors = {k: v.to(torch.float32) for k, v in tensors.items()}
    safetensors_io.save_file(tensors, os.path.join(gdir, "geometry_rollout.safetensors"), dtype="F32",
                             metadata={"case": "geometry_rollout", "computed_in": "float64"})
    print(f"wrote tiny_geometry/, golden/geometry_rollout.safetensors under {args.out}")


if __name__ == "__main__":
    main()
