#!/usr/bin/python3
"""Generate the tiny TAEHV decoder fixtures and their golden frames (deterministic; overwrites).

    /usr/bin/python3 tools/reference/make_decoder_fixtures.py [--out test/fixtures] [--only plain|geometry]

Writes (--only picks one of the two groups; both by default)
  plain:
    taehv_tiny/{config.json,model.safetensors}     random tiny decoder, F32 (latent_channels 4
                                                   = the tiny world model's in_dim)
    taehv_tiny_p2/{config.json,model.safetensors}  a second one: patch_size 2, other switches
    golden/taehv.json, golden/taehv.safetensors    latents of consecutive blocks and the
                                                   frames the reference streams out for them
  geometry (decoders with a "geometry" key: a map per frame read by the five plain convs):
    taehv_geo_s2/      map at half the frame size (scale 2): average-pooled at decoder.1 and
                       .8, as is at .14, repeated at .20 / .22; 3 channels, non-square
    taehv_geo_s8/      map at the latent size (scale 8): as is at decoder.1, repeated after
    taehv_geo_p2/      patch_size 2, scale 4, one channel
    golden/taehv_geometry.json, golden/taehv_geometry.safetensors  as the plain goldens, plus
                       `{case}.block.{b}.geometry` [F, G, Hm, Wm] (uniform [0, 1) float32)
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

GEO_CASES = [
    # name, directory, config, out_gain, latent (H, W), latent frames per block
    ("geo_s2", "taehv_geo_s2", {
        "type": "taehv", "latent_channels": 4, "image_channels": 3, "patch_size": 1,
        "n_f": [8, 8, 8, 8],
        "decoder_time_upscale": [False, False, False],
        "decoder_space_upscale": [True, True, True],
        "trim_first_frames": True,
        "geometry": {"channels": 3, "scale": 2, "samples": 2, "near": 6.0},
    }, 1.0, (4, 3), [3, 3, 1]),
    ("geo_s8", "taehv_geo_s8", {
        "type": "taehv", "latent_channels": 4, "image_channels": 3, "patch_size": 1,
        "n_f": [8, 8, 8, 8],
        "decoder_time_upscale": [False, False],
        "decoder_space_upscale": [True, True, True],
        "trim_first_frames": True,
        "geometry": {"channels": 2, "scale": 8, "samples": 1, "near": 8},
    }, 1.0, (3, 5), [3, 3, 1]),
    ("geo_p2", "taehv_geo_p2", {
        "type": "taehv", "latent_channels": 4, "image_channels": 3, "patch_size": 2,
        "n_f": [8, 4, 4, 4],
        "decoder_time_upscale": [False, False, False],
        "decoder_space_upscale": [True, True, False],
        "trim_first_frames": False,
        "geometry": {"channels": 1, "scale": 4},
    }, 2.5, (3, 2), [3, 3, 1]),
]
GEO_WEIGHT_SEED = WEIGHT_SEED + 100


def write_cases(cases, weight_seed, data_seed, out, stem):
    """Each case's decoder directory, and the goldens of all of them in golden/{stem}.*"""
    golden = {}
    meta = {"cases": []}
    for ci, (name, dirname, cfg, out_gain, (H, W), blocks) in enumerate(cases):
        model = R.TaehvDecoder(cfg)
        R.init_random(model.named_parameters(), weight_seed + ci, out_gain=out_gain)
        sd = {k: v.to(torch.float32) for k, v in model.state_dict().items()}
        d = os.path.join(out, dirname)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
        safetensors_io.save_file(sd, os.path.join(d, "model.safetensors"), dtype="F32",
                                 metadata={"format": "pt", "source": "worldcast tools/reference/make_decoder_fixtures.py"})
        ref = R.load_decoder(d, dtype=torch.float64)  # the weights exactly as stored
        c = ref.cfg
        G = R.geometry_channels(c)
        g = torch.Generator().manual_seed(data_seed + ci)
        st = ref.new_stream()
        per_block = []
        inside = []
        maps = []
        with torch.no_grad():
            for b, nf in enumerate(blocks):
                lat = torch.randn(cfg["latent_channels"], nf, H, W, generator=g)  # float32 draw
                geo = None
                if G:
                    scale = 2 ** sum(c["decoder_space_upscale"]) * c["patch_size"]
                    s = c["geometry"]["scale"]
                    geo = torch.rand(nf, G, H * scale // s, W * scale // s, generator=g)  # float32 draw
                    golden[f"{name}.block.{b}.geometry"] = geo
                    maps.append(geo)
                frames = torch.stack(ref.decode_stream(lat.double(), st, None if geo is None else geo.double()))
                golden[f"{name}.block.{b}.latents"] = lat
                golden[f"{name}.block.{b}.frames"] = frames.to(torch.float32)
                per_block.append(int(frames.shape[0]))
                inside.append(((frames > 0) & (frames < 1)).double().mean().item())
            whole = ref.decode_video(torch.cat([golden[f"{name}.block.{b}.latents"] for b in range(len(blocks))], 1).double(),
                                     torch.cat(maps).double() if G else None)
            stream = torch.cat([golden[f"{name}.block.{b}.frames"] for b in range(len(blocks))]).double()
            assert whole.shape == stream.shape and (whole - stream).abs().max().item() < 1e-6
            if G:  # the map matters: frames without it (zeros) differ clearly
                zero = ref.decode_video(torch.cat([golden[f"{name}.block.{b}.latents"] for b in range(len(blocks))], 1).double(),
                                        torch.zeros_like(torch.cat(maps)).double())
                assert (zero - whole).abs().max().item() > 1e-2
        entry = {
            "name": name, "dir": dirname, "latent_channels": c["latent_channels"],
            "height": H, "width": W, "blocks": blocks, "frames_per_block": per_block,
            "out_height": int(frames.shape[2]), "out_width": int(frames.shape[3]),
            "image_channels": c["image_channels"], "t_upscale": R.t_upscale(c),
            "frames_to_trim": R.frames_to_trim(c),
        }
        if G:
            entry["geometry"] = dict(c["geometry"], height=int(maps[0].shape[2]), width=int(maps[0].shape[3]))
        meta["cases"].append(entry)
        print(f"{name}: {dirname} blocks {blocks} -> frames {per_block} of {list(frames.shape[1:])}; "
              f"{100 * sum(inside) / len(inside):.0f}% of values inside (0,1)")
    gd = os.path.join(out, "golden")
    os.makedirs(gd, exist_ok=True)
    safetensors_io.save_file(golden, os.path.join(gd, f"{stem}.safetensors"), dtype="F32",
                             metadata={"source": "worldcast tools/reference/make_decoder_fixtures.py"})
    with open(os.path.join(gd, f"{stem}.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(REPO, "test", "fixtures"))
    ap.add_argument("--only", choices=["plain", "geometry"], default=None)
    a = ap.parse_args()
    torch.set_num_threads(2)
    if a.only in (None, "plain"):
        write_cases(CASES, WEIGHT_SEED, 500, a.out, "taehv")
    if a.only in (None, "geometry"):
        write_cases(GEO_CASES, GEO_WEIGHT_SEED, 900, a.out, "taehv_geometry")


if __name__ == "__main__":
    main()
