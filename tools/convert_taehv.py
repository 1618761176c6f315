#!/usr/bin/python3
"""Convert an upstream TAEHV checkpoint (madebyollin/taehv: taew2_1.pth for Wan 2.1,
taehv.pth, ...) into a worldcast decoder directory: config.json + model.safetensors
holding upstream's `decoder.*` tensors under their upstream names, unchanged.

    /usr/bin/python3 tools/convert_taehv.py taew2_1.pth --out models/taew2_1 [--dtype f32|f16|bf16]
        [--set decoder_space_upscale='[true,true,false]' ...]

CHECKPOINT  a torch .pth state_dict (`torch.load(weights_only=True)` unless --allow-pickle;
            prefixes `module.` / `_orig_mod.` are stripped) or a .safetensors file.
            `encoder.*` tensors are dropped (worldcast only decodes).

The config is read off the tensors: latent_channels (decoder.1), n_f (decoder.1/8/14/20),
patch_size (decoder.22 has image_channels * patch_size**2 rows, image_channels 3) and
decoder_time_upscale (a TGrow with 2 n_f rows upscales).  decoder_space_upscale cannot be
seen in the weights and defaults to [true, true, true] (every upstream checkpoint);
`--set K=V` overrides any key (V parsed as JSON).  Switching a time upscale off in
config.json later needs no reconversion: loaders keep a TGrow's last rows, as upstream's
`patch_tgrow_layers` does.  Every name and shape is validated; problems are listed and the
exit status is 2.  Only the base decoder is supported (not the "super" variants).
"""

import argparse
import json
import math
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference"))

import safetensors_io  # noqa: E402
import taehv  # noqa: E402

PREFIXES = ("module.", "_orig_mod.")


class ConversionError(Exception):
    pass


def load_state_dict(path, allow_pickle=False):
    if path.endswith(".safetensors"):
        return safetensors_io.load_file(path)
    import torch
    sd = torch.load(path, map_location="cpu", weights_only=not allow_pickle)
    for key in ("state_dict", "model"):
        if isinstance(sd, dict) and key in sd and isinstance(sd[key], dict):
            sd = sd[key]
    out = {}
    for k, v in sd.items():
        for p in PREFIXES:
            if k.startswith(p):
                k = k[len(p):]
        out[k] = v
    return out


def infer_config(sd):
    need = ["decoder.1.weight", "decoder.8.weight", "decoder.14.weight", "decoder.20.weight", "decoder.22.weight"]
    missing = [k for k in need if k not in sd]
    if missing:
        if "decoder.0.weight" in sd:
            raise ConversionError("this looks like a 'super' TAEHV decoder (decoder.0 is a conv); only the base decoder is supported")
        raise ConversionError("not a TAEHV decoder: missing " + ", ".join(missing))
    w1 = sd["decoder.1.weight"]
    nf = [int(w1.shape[0])] + [int(sd[f"decoder.{i}.weight"].shape[0]) for i in (8, 14, 20)]
    out = int(sd["decoder.22.weight"].shape[0])
    p = int(round(math.sqrt(out / 3)))
    if 3 * p * p != out:
        raise ConversionError(f"decoder.22.weight has {out} rows, not 3 * patch_size**2")
    tu = []
    for s, i in enumerate((7, 13, 19)):
        k = f"decoder.{i}.conv.weight"
        if k not in sd:
            raise ConversionError(f"missing {k}")
        tu.append(int(sd[k].shape[0]) == 2 * nf[s])
    return {
        "type": "taehv",
        "latent_channels": int(w1.shape[1]),
        "image_channels": 3,
        "patch_size": p,
        "n_f": nf,
        "decoder_time_upscale": tu,
        "decoder_space_upscale": [True, True, True],
        "trim_first_frames": True,
    }


def validate(cfg, sd):
    """Return the list of problems (empty when every name and shape matches)."""
    want = taehv.expected_shapes(cfg)
    problems = []
    for k, shape in want.items():
        if k not in sd:
            problems.append(f"missing tensor {k} {shape}")
            continue
        got = list(sd[k].shape)
        tgrow = k in ("decoder.7.conv.weight", "decoder.13.conv.weight", "decoder.19.conv.weight")
        ok = got == shape or (tgrow and got[1:] == shape[1:] and got[0] % shape[1] == 0 and got[0] >= shape[0])
        if not ok:
            problems.append(f"tensor {k} has shape {got}, expected {shape}")
    for k in sd:
        if k not in want:
            problems.append(f"unexpected tensor {k}")
    return problems


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--out", required=True)
    ap.add_argument("--dtype", default="f32", choices=["f32", "f16", "bf16"])
    ap.add_argument("--set", action="append", default=[], metavar="K=V")
    ap.add_argument("--allow-pickle", action="store_true")
    a = ap.parse_args(argv)
    try:
        sd = load_state_dict(a.checkpoint, a.allow_pickle)
        dropped = [k for k in sd if not k.startswith("decoder.")]
        sd = {k: v for k, v in sd.items() if k.startswith("decoder.")}
        if dropped:
            print(f"dropping {len(dropped)} non-decoder tensor(s) (encoder.* etc.)")
        cfg = infer_config(sd)
        for kv in a.set:
            k, _, v = kv.partition("=")
            try:
                cfg[k] = json.loads(v)
            except json.JSONDecodeError:
                cfg[k] = v
        cfg = taehv.normalize_config(cfg)
        problems = validate(cfg, sd)
        if problems:
            raise ConversionError("checkpoint does not match the config:\n  " + "\n  ".join(problems))
    except (ConversionError, ValueError) as e:
        print(f"convert_taehv: {e}", file=sys.stderr)
        return 2
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    safetensors_io.save_file(sd, os.path.join(a.out, "model.safetensors"), dtype=a.dtype.upper(),
                             metadata={"format": "pt", "source": os.path.basename(a.checkpoint)})
    print(f"wrote {a.out}/config.json and model.safetensors ({len(sd)} tensors, {a.dtype}); config {json.dumps(cfg)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
