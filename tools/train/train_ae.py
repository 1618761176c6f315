"""Train the default world's TAEHV-family autoencoder on the level's frames.

The decoder is tools/reference/taehv.py's TaehvDecoder (upstream TAEHV's decoder layout
and parameter names, so the engine's native decoder runs it unchanged); the encoder is a
small TAEHV-style encoder of ours (strided 3x3 convs and MemBlocks; training only).
No temporal compression: one latent frame per video frame (see models/default/MODEL_CARD.md).

    /usr/bin/python3 tools/train/train_ae.py --data data/world --run runs/ae --minutes 30
    /usr/bin/python3 tools/train/train_ae.py --data data/world --run runs/ae --encode   # writes data/world/latents.f32

Training: clips of 4 consecutive frames (the MemBlocks see the previous frame), random
crops (convolutions are translation equivariant, so crops train the same weights 4x
cheaper) and full frames at the end; loss = MSE + 0.5 L1 on pixels, plus a soft
unit-variance constraint on the latents (the DiT's data), and Gaussian noise on the
latents fed to the decoder so it stays smooth under the DiT's errors.
Resumable: `--run` holds ckpt.pt (every 2 minutes) and train.log.

A sharper continuation (issue #19; its head start is tools/train/resume/ae_sharp.pt): from
the 25-minute autoencoder's weights, on the characters' dataset, the pixels other
characters cover weighted x4 and an L1 loss on the frames' Sobel gradients, 70 minutes:

    /usr/bin/python3 tools/train/train_ae.py --data data/world_chars --run runs/ae_sharp --init runs/ae/ckpt.pt \
        --minutes 70 --char-weight 4 --edge-weight 0.5 --lr 3e-4
    /usr/bin/python3 tools/train/train_ae.py --data data/world_chars --run runs/ae_sharp --eval-recon

`--eval-recon` measures the autoencoder alone on the held-out episodes (edge F1, HF ratio,
PSNR, characters shown: quick_eval.py's metrics, on every held-out episode, for the
reconstruction of the truth), the bound of any DiT trained on its latents.
"""

import argparse
import json
import os

import torch_env  # noqa: E402  (before torch: OpenMP and OpenBLAS settings)

torch_env.prepare()
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import Deadline, Log, WorldData, load_checkpoint, save_checkpoint, setup_threads
import taehv as T

DECODER_CONFIG = {
    "type": "taehv",
    "latent_channels": 8,
    "image_channels": 3,
    "patch_size": 1,
    "n_f": [64, 48, 24, 16],
    "decoder_time_upscale": [False, False, False],
    "decoder_space_upscale": [True, True, True],
    "trim_first_frames": True,
}


class Encoder(nn.Module):
    """128x128x3 -> 16x16xC. MemBlocks (from taehv.py) read the previous frame's input."""

    def __init__(self, latent_channels):
        super().__init__()
        self.layers = nn.ModuleList([
            nn.Conv2d(3, 24, 3, padding=1), nn.ReLU(),
            nn.Conv2d(24, 48, 3, stride=2, padding=1), nn.ReLU(),       # 64
            nn.Conv2d(48, 64, 3, stride=2, padding=1, bias=False),      # 32
            T.MemBlock(64),
            nn.Conv2d(64, 64, 3, stride=2, padding=1, bias=False),      # 16
            T.MemBlock(64), T.MemBlock(64),
            nn.Conv2d(64, latent_channels, 3, padding=1),
        ])

    def forward(self, x):
        """x [B, T, 3, H, W] -> [B, T, C, h, w]"""
        return run_layers(self.layers, x)


def run_layers(layers, x, g=None):
    """Breadth-first over a batch of clips [B, T, C, H, W]; a MemBlock's past is its
    input at the previous frame of the clip (zeros at the first). A geometry decoder's
    maps g [B, T, G, Hm, Wm] go into its plain convs (tools/reference/taehv.py)."""
    B, Tn = x.shape[:2]
    x = x.flatten(0, 1)
    if g is not None:
        g = g.flatten(0, 1)
    for i, layer in enumerate(layers):
        if g is not None and i in T.GEOMETRY_CONVS:
            x = layer(torch.cat([x, T.resize_map(g, x.shape[-2], x.shape[-1])], dim=1))
        elif isinstance(layer, T.MemBlock):
            xb = x.view(B, Tn, *x.shape[1:])
            past = torch.cat([torch.zeros_like(xb[:, :1]), xb[:, :-1]], dim=1).flatten(0, 1)
            x = layer(x, past)
        elif isinstance(layer, T.TGrow):
            assert layer.stride == 1
            x = layer(x)
        else:
            x = layer(x)
    return x.view(B, Tn, *x.shape[1:])


def decode(dec, z, g=None):
    """z [B, T, C, h, w] (+ a geometry decoder's maps g [B, T, G, Hm, Wm]) -> frames
    [B, T, 3, H, W] in [0, 1] (unclamped for the loss)."""
    return run_layers(dec.decoder, z, g)


def sample_batch(data, starts, rng, batch, clip, crop, charmask=None):
    """(clips [B, clip, 3, H, W] cropped to `crop` on the 8-px grid, their pixel masks
    [B, clip, 1, H, W] of `charmask` — [N, h, w] uint8, the latent cells other characters
    cover, each spread over its 8x8 pixels — or None without one)."""
    xs, ms = [], []
    for s in rng.choice(starts, size=batch):
        x = data.frames_tensor(int(s), clip)
        m = None
        if charmask is not None:
            m = torch.from_numpy(np.ascontiguousarray(charmask[int(s):int(s) + clip])).float()[:, None]
            m = m.repeat_interleave(8, 2).repeat_interleave(8, 3)
        if crop and crop < data.H:
            i = int(rng.integers(0, (data.H - crop) // 8 + 1)) * 8
            j = int(rng.integers(0, (data.W - crop) // 8 + 1)) * 8
            x = x[:, :, i:i + crop, j:j + crop]
            if m is not None:
                m = m[:, :, i:i + crop, j:j + crop]
        xs.append(x)
        ms.append(m)
    return torch.stack(xs), (torch.stack(ms) if charmask is not None else None)


SOBEL = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]).view(1, 1, 3, 3)


def gradients(x):
    """Sobel x and y gradients per channel of frames [..., C, H, W] -> [N, 2C, H-2, W-2]."""
    x = x.flatten(0, -4)
    C = x.shape[1]
    k = torch.cat([SOBEL, SOBEL.transpose(2, 3)]).repeat(C, 1, 1, 1)
    return F.conv2d(x, k, groups=C)


def evaluate(enc, dec, data, starts, n=16, clip=4):
    rng = np.random.default_rng(1234)
    with torch.no_grad():
        x, _ = sample_batch(data, starts, rng, n, clip, None)
        z = enc(x)
        y = decode(dec, z).clamp(0, 1)
        mse = F.mse_loss(y, x).item()
    return 10 * np.log10(1.0 / max(mse, 1e-12)), z.std().item(), z.mean().item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data/world")
    ap.add_argument("--run", default="runs/ae")
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--batch", type=int, default=6)
    ap.add_argument("--clip", type=int, default=4)
    ap.add_argument("--crop", type=int, default=64)
    ap.add_argument("--full-frames-last", type=float, default=0.15, help="fraction of the time on full frames at the end")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--latent-noise", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init", metavar="PATH", default=None,
                    help="a run's checkpoint to start from when --run has none: its weights, a fresh optimizer "
                         "and schedule (a continuation on other data or losses)")
    ap.add_argument("--char-weight", type=float, default=1.0,
                    help="loss weight of the pixels other characters cover (the dataset's charmask16.u8)")
    ap.add_argument("--edge-weight", type=float, default=0.0,
                    help="weight of an L1 loss on the Sobel gradients (edges) of the frames")
    ap.add_argument("--eval-recon", action="store_true",
                    help="encode and decode the held-out episodes, print edge F1 / HF ratio / PSNR and the "
                         "characters the reconstruction shows (needs val_nochar from char_masks.ts), and exit")
    ap.add_argument("--encode", action="store_true", help="encode the whole dataset to latents.f32 and exit")
    ap.add_argument("--latents", default="latents.f32",
                    help="with --encode: the file in --data to write (default latents.f32)")
    ap.add_argument("--encode-episodes", type=int, default=0,
                    help="with --encode: only the first K episodes (the DiT then trains on those)")
    ap.add_argument("--export-weights", metavar="PATH", default=None,
                    help="write the run's weights without the optimizer state (a head start to commit) and exit")
    args = ap.parse_args()
    threads = setup_threads()
    log = Log(os.path.join(args.run, "train.log"))
    data = WorldData(args.data, latents=args.latents)
    torch.manual_seed(args.seed)
    enc = Encoder(DECODER_CONFIG["latent_channels"])
    dec = T.TaehvDecoder(DECODER_CONFIG)
    opt = torch.optim.AdamW(list(enc.parameters()) + list(dec.parameters()), lr=args.lr, weight_decay=0.0)
    ck = load_checkpoint(os.path.join(args.run, "ckpt.pt"))
    step, spent = 0, 0.0
    if not ck and args.init:
        init = load_checkpoint(args.init)
        if not init:
            raise SystemExit(f"--init {args.init}: no such checkpoint")
        enc.load_state_dict(init["encoder"])
        dec.load_state_dict(init["decoder"])
        log(f"started from {args.init}'s weights (its step {init['step']}), a fresh optimizer and schedule")
    elif ck:
        enc.load_state_dict(ck["encoder"])
        dec.load_state_dict(ck["decoder"])
        step, spent = ck["step"], ck["spent"]
        if "opt" in ck:
            opt.load_state_dict(ck["opt"])
            log(f"resumed at step {step} ({spent / 60:.1f} min spent)")
        else:  # a committed head start (--export-weights): the weights, a fresh optimizer
            log(f"started from weights-only checkpoint at step {step} ({spent / 60:.1f} min spent)")
    if args.export_weights:
        if not ck:
            raise SystemExit(f"no checkpoint in {args.run} to export")
        save_checkpoint(args.export_weights, encoder=enc.state_dict(), decoder=dec.state_dict(), step=step,
                        spent=spent, config=DECODER_CONFIG)
        log(f"wrote weights-only checkpoint {args.export_weights} (step {step}, {spent / 60:.1f} min)")
        return

    if args.encode:
        encode_all(enc, data, log, args.encode_episodes)
        return
    if args.eval_recon:
        if not ck and not args.init:
            raise SystemExit(f"no checkpoint in {args.run} (or --init) to evaluate")
        eval_recon(enc, dec, data, log, os.path.join(args.run, "recon.json"))
        return
    charmask = None
    if args.char_weight != 1.0:
        charmask = data.charmask16()

    tr, va = data.split()
    tr_starts = data.clip_starts(tr, args.clip)
    va_starts = data.clip_starts(va, args.clip)
    log(f"AE: {len(tr)} train / {len(va)} val episodes, {threads} threads, "
        f"enc {sum(p.numel() for p in enc.parameters())} dec {sum(p.numel() for p in dec.parameters())} params")
    rng = np.random.default_rng(args.seed + step)
    dl = Deadline(args.minutes, spent)
    last_ck = dl.spent
    ema = None
    while not dl.over():
        frac = dl.spent / dl.limit
        full = frac > 1.0 - args.full_frames_last
        lr = args.lr * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * min(frac, 1.0))))
        for g in opt.param_groups:
            g["lr"] = lr
        x, w = sample_batch(data, tr_starts, rng, max(1, args.batch // 4) if full else args.batch, args.clip,
                            None if full else args.crop, charmask)
        z = enc(x)
        zn = z + args.latent_noise * torch.randn_like(z)
        y = decode(dec, zn)
        if w is None:
            rec = F.mse_loss(y, x) + 0.5 * F.l1_loss(y, x)
        else:  # the characters' pixels weighted, normalised so the mean weight is 1
            w = 1.0 + (args.char_weight - 1.0) * w
            w = w / w.mean()
            d = y - x
            rec = (w * (d * d + 0.5 * d.abs())).mean()
        if args.edge_weight:
            rec = rec + args.edge_weight * F.l1_loss(gradients(y), gradients(x))
        # soft unit variance per channel, zero mean
        zc = z.transpose(0, 2).flatten(1)
        reg = (zc.var(dim=1) - 1.0).pow(2).mean() + zc.mean(dim=1).pow(2).mean()
        loss = rec + 0.05 * reg
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(enc.parameters()) + list(dec.parameters()), 1.0)
        opt.step()
        step += 1
        ema = rec.item() if ema is None else 0.98 * ema + 0.02 * rec.item()
        log.bar(int(dl.spent), int(dl.limit), f"step {step} rec {ema:.4f} lr {lr:.1e}{' full' if full else ''}")
        if step % 100 == 0:
            psnr, zs, zm = evaluate(enc, dec, data, va_starts)
            log(f"step {step} rec {ema:.5f} val PSNR {psnr:.2f} dB, latent std {zs:.3f} mean {zm:.3f}")
        if dl.spent - last_ck > 120:
            save_checkpoint(os.path.join(args.run, "ckpt.pt"), encoder=enc.state_dict(), decoder=dec.state_dict(),
                            opt=opt.state_dict(), step=step, spent=dl.spent, config=DECODER_CONFIG)
            last_ck = dl.spent
    save_checkpoint(os.path.join(args.run, "ckpt.pt"), encoder=enc.state_dict(), decoder=dec.state_dict(),
                    opt=opt.state_dict(), step=step, spent=dl.spent, config=DECODER_CONFIG)
    psnr, zs, zm = evaluate(enc, dec, data, va_starts, n=32)
    log(f"done: step {step}, {dl.spent / 60:.1f} min, val PSNR {psnr:.2f} dB, latent std {zs:.3f}")
    with open(os.path.join(args.run, "metrics.json"), "w") as f:
        json.dump({"steps": step, "minutes": dl.spent / 60, "val_psnr_db": psnr, "latent_std": zs, "threads": threads}, f)


def eval_recon(enc, dec, data, log, out_path):
    """The autoencoder alone on the held-out episodes (frames 3.. of each): the figures
    quick_eval.py gives a model's rollouts, for the reconstruction of the truth. It bounds
    what any DiT on these latents can reach."""
    import quick_eval as Q  # (it imports this module)
    eps, nochar, row_of = Q.load_nochar(data)
    names = data.meta["prompts"]
    f1, hf_m, hf_t, psnr, dark = [], [], [], [], []
    shown = total = 0
    enc.eval()
    dec.eval()
    with torch.no_grad():
        for k, e in enumerate(eps):
            s, n = e["start"], e["frames"]
            x = data.frames_tensor(s, n)
            y = decode(dec, enc(x[None]))[0].clamp(0, 1)
            x, y = x[3:], y[3:]
            fr = np.arange(s + 3, s + n)
            npx, _, det = Q.characters(y, x, Q.nochar_frames(nochar, row_of, fr))
            vis = npx >= 24
            shown += int((det & vis).sum())
            total += int(vis.sum())
            f1.append(Q.edge_f1(y, x))
            hf_m.append(Q.hf_rms(y))
            hf_t.append(Q.hf_rms(x))
            psnr.append(10 * np.log10(1 / np.maximum((y - x).pow(2).mean((1, 2, 3)).numpy(), 1e-10)))
            dark.append(np.array([names[int(data.prompts[i])] in ("night", "fog") for i in fr]))
            log.bar(k + 1, len(eps), "reconstructing")
    f1, hf_m, hf_t, psnr, dark = (np.concatenate(v) for v in (f1, hf_m, hf_t, psnr, dark))
    rep = {"episodes": len(eps), "psnr": float(psnr.mean()), "edge_f1": float(f1.mean()),
           "hf_ratio": float(hf_m.mean() / hf_t.mean()), "chars_shown": shown, "chars_visible": total}
    for name, sel in (("day_dusk", ~dark), ("night_fog", dark)):
        if sel.any():
            rep[f"edge_f1_{name}"] = float(f1[sel].mean())
            rep[f"hf_ratio_{name}"] = float(hf_m[sel].mean() / hf_t[sel].mean())
    log("recon: " + json.dumps(rep))
    with open(out_path, "w") as f:
        json.dump(rep, f, indent=1)


def encode_all(enc, data, log, first_episodes=0):
    """Every frame -> latents, episode by episode (MemBlock memory runs along each episode);
    `first_episodes` > 0: only the first ones (the latents file then covers their frames)."""
    C = DECODER_CONFIG["latent_channels"]
    h, w = data.H // 8, data.W // 8
    path = data.latents_path
    episodes = data.episodes[:first_episodes] if first_episodes > 0 else data.episodes
    N = episodes[-1]["start"] + episodes[-1]["frames"]
    mm = np.memmap(path + ".tmp", np.float32, "w+", shape=(N, C, h, w))
    with torch.no_grad():
        for k, e in enumerate(episodes):
            s, n = e["start"], e["frames"]
            mm[s:s + n] = enc(data.frames_tensor(s, n).unsqueeze(0))[0].numpy()
            log.bar(k + 1, len(episodes), "encoding")
    mm.flush()
    del mm
    os.replace(path + ".tmp", path)
    with open(path + ".json", "w") as f:
        json.dump({"shape": [N, C, h, w]}, f)
    log(f"wrote {path} [{N}, {C}, {h}, {w}]")


if __name__ == "__main__":
    main()
