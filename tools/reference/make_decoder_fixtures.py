#!/usr/bin/python3
"""Generate the tiny TAEHV decoder fixtures and their golden frames (deterministic; overwrites).

    /usr/bin/python3 tools/reference/make_decoder_fixtures.py [--out test/fixtures]

Writes
    taehv_tiny/{config.json,model.safetensors}     random tiny decoder, F32 (latent_channels 4
                                                   = the tiny world model's in_dim)
    taehv_tiny_p2/{config.json,model.safetensors}  a second one: patch_size 2, other switches
    golden/taehv.json, golden/taehv.safetensors    latents of consecutive blocks and the
                                                   frames the reference streams out for them
Goldens are computed by the reference (taehv.py) in float64 from the F32 weights as stored,
decoding block after block on one stream; latents are drawn as float32; all stored F32.
Tensor names: `{case}.block.{b}.latents` [C, F, H, W] and `{case}.block.{b}.frames`
[n, image_channels, H_out, W_out] (values in [0, 1]).
"""

import argparse
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import safetensors_io  # noqa: E402
import taehv as R  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

CASES = [
    # name, directory, config, out_gain, latent (H, W), latent frames per block
    ("tiny", "taehv_tiny", {
        "type": "taehv", "latent_channels": 4, "image_channels": 3, "patch_size": 1,
        "n_f": [16, 8, 8, 8],
        "decoder_time_upscale": [False, True, True],
        "decoder_space_upscale": [True, False, False],
        "trim_first_frames": True,
    }, 1.0, (8, 8), [3, 3, 3]),
    ("p2", "taehv_tiny_p2", {
        "type": "taehv", "latent_channels": 4, "image_channels": 3, "patch_size": 2,
        "n_f": [8, 4, 4, 4],
        "decoder_time_upscale": [True, False, False],
        "decoder_space_upscale": [True, True, False],
        "trim_first_frames": True,
    }, 2.5, (2, 3), [3, 2]),
]
WEIGHT_SEED = 20240611


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(REPO, "test", "fixtures"))
    a = ap.parse_args()
    torch.set_num_threads(2)
    golden = {}
    meta = {"cases": []}
    for ci, (name, dirname, cfg, out_gain, (H, W), blocks) in enumerate(CASES):
        model = R.TaehvDecoder(cfg)
        R.init_random(model.named_parameters(), WEIGHT_SEED + ci, out_gain=out_gain)
        sd = {k: v.to(torch.float32) for k, v in model.state_dict().items()}
        d = os.path.join(a.out, dirname)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
        safetensors_io.save_file(sd, os.path.join(d, "model.safetensors"), dtype="F32",
                                 metadata={"format": "pt", "source": "worldcast tools/reference/make_decoder_fixtures.py"})
        ref = R.load_decoder(d, dtype=torch.float64)  # the weights exactly as stored
        g = torch.Generator().manual_seed(500 + ci)
        st = ref.new_stream()
        per_block = []
        inside = []
        with torch.no_grad():
            for b, nf in enumerate(blocks):
                lat = torch.randn(cfg["latent_channels"], nf, H, W, generator=g)  # float32 draw
                frames = torch.stack(ref.decode_stream(lat.double(), st))
                golden[f"{name}.block.{b}.latents"] = lat
                golden[f"{name}.block.{b}.frames"] = frames.to(torch.float32)
                per_block.append(int(frames.shape[0]))
                inside.append(((frames > 0) & (frames < 1)).double().mean().item())
            whole = ref.decode_video(torch.cat([golden[f"{name}.block.{b}.latents"] for b in range(len(blocks))], 1).double())
            stream = torch.cat([golden[f"{name}.block.{b}.frames"] for b in range(len(blocks))]).double()
            assert whole.shape == stream.shape and (whole - stream).abs().max().item() < 1e-6
        c = ref.cfg
        meta["cases"].append({
            "name": name, "dir": dirname, "latent_channels": c["latent_channels"],
            "height": H, "width": W, "blocks": blocks, "frames_per_block": per_block,
            "out_height": int(frames.shape[2]), "out_width": int(frames.shape[3]),
            "image_channels": c["image_channels"], "t_upscale": R.t_upscale(c),
            "frames_to_trim": R.frames_to_trim(c),
        })
        print(f"{name}: {dirname} blocks {blocks} -> frames {per_block} of {list(frames.shape[1:])}; "
              f"{100 * sum(inside) / len(inside):.0f}% of values inside (0,1)")
    gd = os.path.join(a.out, "golden")
    os.makedirs(gd, exist_ok=True)
    safetensors_io.save_file(golden, os.path.join(gd, "taehv.safetensors"), dtype="F32",
                             metadata={"source": "worldcast tools/reference/make_decoder_fixtures.py"})
    with open(os.path.join(gd, "taehv.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
