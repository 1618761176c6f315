"""Export the trained default world to models/default/ (loads through the public API as
any checkpoint does):

    models/default/
      config.json            the DiT config (upstream schema + loop keys + action space), decoder: "decoder"
      model.safetensors      CausalWanModel weights (upstream names), the EMA of training
      prompts.safetensors    the prompt vocabulary: name -> [text_len, text_dim] (TablePromptEncoder)
      openings.safetensors   "<prompt>/<spawn>" -> latents [C, F, h, w]: the opening block of a
                             character standing at each spawn point, encoded from the renderer's frames
      decoder/config.json, decoder/model.safetensors   the TAEHV decoder (upstream `decoder.*` names)

    /usr/bin/python3 tools/train/export_default.py --data data/world --ae runs/ae --dit runs/dit --out models/default
"""

import argparse
import json
import os

import numpy as np
import torch

from common import WorldData, load_checkpoint
import safetensors_io
import train_ae
from train_dit import engine_weights
import wan_causal as W


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data/world")
    ap.add_argument("--ae", default="runs/ae")
    ap.add_argument("--dit", default="runs/dit")
    ap.add_argument("--out", default="models/default")
    ap.add_argument("--no-ema", action="store_true")
    ap.add_argument("--decoder", default=None,
                    help="a decoder directory (config.json + model.safetensors, e.g. train_dec.py's runs/dec/decoder) "
                         "instead of the autoencoder's decoder")
    ap.add_argument("--openings-data", default=None,
                    help="the dataset the openings are encoded from (default --data; a dataset without other "
                         "characters, e.g. the base data/world, when --data has them)")
    ap.add_argument("--openings-from", default=None,
                    help="copy openings.safetensors from this model directory (valid when it has the same autoencoder)")
    args = ap.parse_args()
    data = WorldData(args.data)
    ae = load_checkpoint(os.path.join(args.ae, "ckpt.pt"))
    dit = load_checkpoint(os.path.join(args.dit, "ckpt.pt"))
    if ae is None or dit is None:
        raise SystemExit("missing checkpoints")
    os.makedirs(os.path.join(args.out, "decoder"), exist_ok=True)

    # --- DiT -------------------------------------------------------------------------
    cfg = dict(dit["config"])
    model = W.CausalWanModel(cfg).float()
    model.load_state_dict(dit["model"])
    table = dit["prompts"]
    if not args.no_ema:
        params = list(model.parameters()) + [table]
        with torch.no_grad():
            for p, e in zip(params, dit["ema"]):
                p.copy_(e)
    cfg["decoder"] = "decoder"
    cfg["latent_fps"] = data.meta["fps"]  # latent frames per second of world time (no temporal compression)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    # the engine's weights: the geometry columns with their training scale folded in
    safetensors_io.save_file({k: v.detach().float() for k, v in engine_weights(model.state_dict(), cfg).items()},
                             os.path.join(args.out, "model.safetensors"),
                             metadata={"format": "pt", "trained_steps": str(dit["step"])})
    prompts = {name: table[i].detach().float() for i, name in enumerate(data.meta["prompts"])}
    safetensors_io.save_file(prompts, os.path.join(args.out, "prompts.safetensors"))

    # --- decoder ---------------------------------------------------------------------
    dcfg = dict(ae["config"])
    dec_sd = ae["decoder"]
    if args.decoder:  # a fine-tuned decoder (train_dec.py): the same layout
        with open(os.path.join(args.decoder, "config.json")) as f:
            dcfg = json.load(f)
        dec_sd = safetensors_io.load_file(os.path.join(args.decoder, "model.safetensors"))
    with open(os.path.join(args.out, "decoder", "config.json"), "w") as f:
        json.dump(dcfg, f, indent=2)
    # TaehvDecoder's state_dict keys are already upstream's `decoder.*` names
    safetensors_io.save_file({k: v.float() for k, v in dec_sd.items()},
                             os.path.join(args.out, "decoder", "model.safetensors"))

    # --- openings: each (prompt, spawn) seen at the start of an episode ----------------
    if args.openings_from:
        import shutil
        shutil.copyfile(os.path.join(args.openings_from, "openings.safetensors"), os.path.join(args.out, "openings.safetensors"))
        total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(args.out) for f in fs)
        print(f"wrote {args.out}: {total / 1e6:.1f} MB (openings from {args.openings_from})")
        return
    if args.openings_data:
        data = WorldData(args.openings_data)
    # (a dataset with other characters: only episodes whose first frame shows none of them,
    # so an opening is the level's spawn view alone; tools/train/char_masks.ts's charmask16.u8)
    charmask = None
    if os.path.exists(os.path.join(data.root, "charmask16.u8")):
        charmask = np.fromfile(os.path.join(data.root, "charmask16.u8"), np.uint8).reshape(data.N, -1)
    enc = train_ae.Encoder(dcfg["latent_channels"])
    enc.load_state_dict(ae["encoder"])
    Fb = cfg["num_frame_per_block"]
    openings = {}
    with torch.no_grad():
        for e in data.episodes:
            p = data.meta["prompts"][int(data.prompts[e["start"]])]
            key = f"{p}/{e['spawn']['index']}"
            if key in openings or (charmask is not None and charmask[e["start"]].any()):
                continue
            x = data.frames_tensor(e["start"], 1).repeat(Fb, 1, 1, 1)  # standing still at the spawn
            z = enc(x.unsqueeze(0))[0]  # [F, C, h, w]
            openings[key] = z.permute(1, 0, 2, 3).contiguous()
    n_spawns = len({e["spawn"]["index"] for e in data.episodes})
    want = len(data.meta["prompts"]) * n_spawns
    if len(openings) != want:
        raise SystemExit(f"only {len(openings)} of {want} (prompt, spawn) openings occur in the data")
    safetensors_io.save_file(openings, os.path.join(args.out, "openings.safetensors"),
                             metadata={"frames": str(Fb), "spawns": str(n_spawns)})
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(args.out) for f in fs)
    print(f"wrote {args.out}: {total / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
