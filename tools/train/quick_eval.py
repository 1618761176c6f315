"""A quick training-time check of a default-world model directory on the held-out episodes
of a dataset made with `npm run dataset -- --characters` (and tools/train/char_masks.ts):
rollouts as the engine runs them (the reference block loop, float32), from the spawn's
opening, driven by the episode's actions, pose and geometry map (characters included:
the model is only ever given geometry), compared with the renderer's frames.

    /usr/bin/python3 tools/train/quick_eval.py --model models/default --data /work/data/world \
        [--episodes 8] [--steps 1000,750,500,250] [--decoder DIR] [--out report.json]

Figures (frames 3.. of each 10-s episode; "at h s" = the block ending at h):
  * PSNR / SSIM (luma-free, RGB, Gaussian 11x11 SSIM) per horizon and over all frames;
  * edge F1: Sobel magnitude of the luma above the truth's 88th percentile, a model edge
    pixel matched if a truth edge is within 1 px (and the reverse for recall);
  * HF ratio: RMS of the Laplacian of the luma, model / truth (1 = as sharp as the truth);
    both per prompt (day+dusk vs night+fog);
  * characters: a frame's character pixels are where the truth differs from the same view
    rendered without the other characters (val_nochar.u8) by > 0.06; a frame with >= 24 such
    pixels "shows" a character; the model shows it when its frame is closer (mean abs) to
    the truth than to the character-less view over those pixels (dilated by 1 px). False
    detections: frames without a character in the truth whose model frame is closer to
    the truth of the last frame that had one (over that frame's mask) than to the
    character-less view, within 1 s after a character left the view. Entries: the frames a
    character needs after it enters the view until the model shows it.
"""

import argparse
import json
import os
import sys
import time

import torch_env  # noqa: E402

torch_env.prepare()
import numpy as np
import torch
import torch.nn.functional as F

from common import WorldData, setup_threads
import safetensors_io
import taehv as T
import train_ae
import wan_causal as W


def luma(x):
    """[N, 3, H, W] -> [N, 1, H, W]"""
    return (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])


SOBEL_X = train_ae.SOBEL
LAP = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]).view(1, 1, 3, 3)


def sobel_mag(y):
    gx = F.conv2d(y, SOBEL_X)
    gy = F.conv2d(y, SOBEL_X.transpose(2, 3))
    return torch.sqrt(gx * gx + gy * gy)


def edge_f1(model, truth):
    """Per frame edge F1 ([N] array); frames in [0, 1], [N, 3, H, W]."""
    mt, mm = sobel_mag(luma(truth)), sobel_mag(luma(model))
    thr = torch.quantile(mt.flatten(1), 0.88, dim=1).clamp_min(1e-3)[:, None, None, None]
    et, em = (mt > thr).float(), (mm > thr).float()
    dt = F.max_pool2d(et, 3, 1, 1)
    dm = F.max_pool2d(em, 3, 1, 1)
    prec = (em * dt).sum((1, 2, 3)) / em.sum((1, 2, 3)).clamp_min(1)
    rec = (et * dm).sum((1, 2, 3)) / et.sum((1, 2, 3)).clamp_min(1)
    return (2 * prec * rec / (prec + rec).clamp_min(1e-9)).numpy()


def hf_rms(x):
    return F.conv2d(luma(x), LAP).pow(2).mean((1, 2, 3)).sqrt().numpy()


def ssim(a, b):
    g = torch.exp(-((torch.arange(11) - 5.0) ** 2) / (2 * 1.5 ** 2))
    g = (g / g.sum())
    k = (g[:, None] * g[None, :]).expand(3, 1, 11, 11).contiguous()
    f = lambda z: F.conv2d(z, k, groups=3)
    mu_a, mu_b = f(a), f(b)
    saa, sbb, sab = f(a * a) - mu_a ** 2, f(b * b) - mu_b ** 2, f(a * b) - mu_a * mu_b
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (saa + sbb + c2))
    return s.mean((1, 2, 3)).numpy()


def load_dir(model_dir, decoder_dir=None):
    model = W.load_model(model_dir, dtype=torch.float32)
    prompts = safetensors_io.load_file(os.path.join(model_dir, "prompts.safetensors"))
    openings = safetensors_io.load_file(os.path.join(model_dir, "openings.safetensors"))
    ddir = decoder_dir or os.path.join(model_dir, "decoder")
    with open(os.path.join(ddir, "config.json")) as f:
        dcfg = json.load(f)
    dec = T.TaehvDecoder(dcfg)
    dec.load_state_dict({k: v.float() for k, v in safetensors_io.load_file(os.path.join(ddir, "model.safetensors")).items()})
    return model, prompts, openings, dec.eval()


def action_rows(cfg, data, frames, zero_motion=False):
    """[len(frames), row] float32: keys+mouse, pose features, geometry map (as the engine's rows)."""
    a = data.actions[frames].copy()
    if zero_motion:
        a[:] = 0
    parts = [a]
    pose_cfg = (cfg.get("action") or {}).get("pose")
    if pose_cfg:
        parts.append(W.pose_features(pose_cfg, data.poses[frames]))
    if W.geometry_channels(cfg.get("action")):
        parts.append(data.geometry[frames].reshape(len(frames), -1))
    return torch.from_numpy(np.concatenate(parts, axis=1).astype(np.float32))


def load_nochar(data):
    """The held-out frames rendered without the other characters (char_masks.ts):
    (the episodes they cover, their frames [V, H, W, 3] uint8, global frame -> row)."""
    with open(os.path.join(data.root, "val_nochar.json")) as f:
        vn = json.load(f)
    nochar = np.memmap(os.path.join(data.root, "val_nochar.u8"), np.uint8, "r", shape=(len(vn["frames"]), data.H, data.W, 3))
    ids = set(vn["episodes"])
    return [e for e in data.episodes if e["id"] in ids], nochar, {fr: i for i, fr in enumerate(vn["frames"])}


def nochar_frames(nochar, row_of, frames):
    """[N, 3, H, W] in [0, 1] of the given global frames."""
    return torch.from_numpy(np.ascontiguousarray(nochar[[row_of[int(f)] for f in frames]])).permute(0, 3, 1, 2).float() / 255


def characters(y, x, nc):
    """The characters' test of the module docstring on frames [N, 3, H, W]: (the truth's
    character pixels per frame, those pixels dilated by 1 px, whether `y` is closer to the
    truth than to the character-less view over them)."""
    m = ((x - nc).abs().amax(1, keepdim=True) > 0.06).float()
    md = F.max_pool2d(m, 3, 1, 1)
    d_truth = ((y - x).abs() * md).sum((1, 2, 3)) / (3 * md.sum((1, 2, 3))).clamp_min(1)
    d_none = ((y - nc).abs() * md).sum((1, 2, 3)) / (3 * md.sum((1, 2, 3))).clamp_min(1)
    return m.sum((1, 2, 3)).numpy(), md, (d_truth < d_none).numpy()


@torch.no_grad()
def rollout(model, prompts, openings, data, ep, steps=None, seed=0, return_latents=False, block_frames=None):
    """Latents [T, C, h, w] of the episode's frames: frames 0..2 the spawn's opening, then the model's
    (`block_frames`: blocks of that many frames instead of the config's, the opening too,
    as the engine runs a model loaded with `blockFrames`)."""
    cfg = model.config
    over = {} if steps is None else {"denoising_step_list": steps}
    if block_frames:
        over["num_frame_per_block"] = block_frames
    ro = W.Rollout(model, config=over)
    Fb = ro.F
    names = data.meta["prompts"]
    s0, n = ep["start"], ep["frames"]
    p0 = names[int(data.prompts[s0])]
    op = openings[f"{p0}/{ep['spawn']['index']}"]  # [C, F, h, w]
    ctx = prompts[p0]
    # the opening committed block by block, as the engine commits it (Model.openingBlocks)
    F0 = op.shape[1]
    assert F0 % Fb == 0, f"the opening's {F0} frames are not a whole number of {Fb}-frame blocks"
    rows = action_rows(cfg, data, np.full(Fb, s0), zero_motion=True)
    for f in range(0, F0, Fb):
        model.forward_block(op[:, f:f + Fb], ro._t(cfg.get("context_noise", 0)), f, ctx, rows, ro.kv, commit=True)
        ro.frame = f + Fb
        ro.kv.prune(ro.frame, Fb)
    out = [op.permute(1, 0, 2, 3)]
    g = torch.Generator().manual_seed(seed)
    C, h, w = op.shape[0], op.shape[2], op.shape[3]
    for f in range(F0, n - (n - F0) % Fb, Fb):
        fr = np.arange(s0 + f, s0 + f + Fb)
        ctx = prompts[names[int(data.prompts[s0 + f])]]
        noise = [torch.randn(C, Fb, h, w, generator=g) for _ in ro.schedule.steps]
        x0 = ro.run_block(noise, ctx, action_rows(cfg, data, fr))
        out.append(x0.permute(1, 0, 2, 3).float())
    return torch.cat(out, 0)


def frame_maps(dec, data, start, n):
    """A geometry decoder's maps of dataset frames start.. (frame_geometry.f32), else None."""
    if not dec.cfg.get("geometry"):
        return None
    fg = data.meta.get("frameGeometry")
    path = os.path.join(data.root, "frame_geometry.f32")
    if not fg or not os.path.exists(path):
        raise SystemExit("this decoder takes geometry: the dataset needs frame_geometry.f32 (npm run dataset -- --frame-geometry D)")
    m = np.memmap(path, np.float32, "r", shape=(data.N, fg["channels"], fg["height"], fg["width"]))
    return torch.from_numpy(np.ascontiguousarray(m[start:start + n]))


@torch.no_grad()
def decode_all(dec, z, g=None):
    """[T, C, h, w] (+ a geometry decoder's maps [T, G, Hm, Wm]) -> [T, 3, H, W] in [0, 1]
    (the decoder over the whole stream)."""
    return train_ae.decode(dec, z[None], None if g is None else g[None])[0].clamp(0, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/default")
    ap.add_argument("--decoder", default=None, help="a decoder directory (config.json + model.safetensors) to use instead")
    ap.add_argument("--data", default="/work/data/world")
    ap.add_argument("--episodes", type=int, default=8)
    ap.add_argument("--frames", type=int, default=0, help="only the first N frames of each episode (a smoke test)")
    ap.add_argument("--steps", default=None, help="denoising step list, e.g. 1000,750,500,250")
    ap.add_argument("--block-frames", type=int, default=0, help="latent frames per block instead of the config's")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    setup_threads()
    t0 = time.time()
    data = WorldData(args.data)
    eps, nochar, row_of = load_nochar(data)
    model, prompts, openings, dec = load_dir(args.model, args.decoder)
    steps = [float(s) for s in args.steps.split(",")] if args.steps else None
    # the episodes with characters first, then the others, args.episodes in all
    eps = sorted(eps, key=lambda e: (len(e.get("others") or []) == 0, e["id"]))[:args.episodes]
    if args.frames:
        eps = [dict(e, frames=min(e["frames"], args.frames)) for e in eps]
    names = data.meta["prompts"]
    rec = {k: [] for k in ("psnr", "ssim", "f1", "hf_m", "hf_t", "t", "dark")}
    shown, total, fp, fp_total, entries = 0, 0, 0, 0, []
    for k, ep in enumerate(eps):
        z = rollout(model, prompts, openings, data, ep, steps, seed=ep["id"], block_frames=args.block_frames or None)
        y = decode_all(dec, z, frame_maps(dec, data, ep["start"], len(z)))[3:]
        s0 = ep["start"]
        fr = np.arange(s0 + 3, s0 + len(z))
        x = torch.from_numpy(np.ascontiguousarray(data.frames[fr])).permute(0, 3, 1, 2).float() / 255
        nc = nochar_frames(nochar, row_of, fr)
        mse = (y - x).pow(2).mean((1, 2, 3)).numpy()
        rec["psnr"].append(10 * np.log10(1 / np.maximum(mse, 1e-10)))
        rec["ssim"].append(ssim(y, x))
        rec["f1"].append(edge_f1(y, x))
        rec["hf_m"].append(hf_rms(y))
        rec["hf_t"].append(hf_rms(x))
        rec["t"].append((np.arange(3, len(z)) + 1) / data.meta["fps"])
        rec["dark"].append(np.array([names[int(data.prompts[f])] in ("night", "fog") for f in fr]))
        # characters
        npx, md, det = characters(y, x, nc)
        vis = npx >= 24
        shown += int((det & vis).sum())
        total += int(vis.sum())
        last = None
        for i in range(len(fr)):
            if vis[i]:
                last = i
            elif last is not None and i - last <= 15 and npx[i] == 0:
                mm = md[last:last + 1]
                a = ((y[i:i + 1] - x[last:last + 1]).abs() * mm).sum() / (3 * mm.sum()).clamp_min(1)
                b = ((y[i:i + 1] - nc[i:i + 1]).abs() * mm).sum() / (3 * mm.sum()).clamp_min(1)
                fp += int(a < b)
                fp_total += 1
        for i in range(1, len(fr)):
            if vis[i] and not vis[i - 1]:
                j = i
                while j < len(fr) and vis[j] and not det[j]:
                    j += 1
                entries.append(j - i if (j < len(fr) and vis[j]) else None)
        sys.stderr.write(f"\r{k + 1}/{len(eps)} episodes, {time.time() - t0:.0f} s")
    sys.stderr.write("\n")
    cat = {k: np.concatenate(v) for k, v in rec.items()}
    rep = {"model": args.model, "decoder": args.decoder, "steps": steps, "episodes": [e["id"] for e in eps]}
    t = cat["t"]
    for h in (1.0, 5.0, 9.8):
        sel = (t > h - 0.2 + 1e-6) & (t <= h + 1e-6)
        if sel.any():
            rep[f"psnr_at_{h:g}s"] = float(cat["psnr"][sel].mean())
            rep[f"ssim_at_{h:g}s"] = float(cat["ssim"][sel].mean())
    rep["psnr_mean"] = float(cat["psnr"].mean())
    rep["ssim_mean"] = float(cat["ssim"].mean())
    for name, sel in (("day_dusk", ~cat["dark"]), ("night_fog", cat["dark"])):
        if sel.any():
            rep[f"edge_f1_{name}"] = float(cat["f1"][sel].mean())
            rep[f"hf_ratio_{name}"] = float(cat["hf_m"][sel].mean() / cat["hf_t"][sel].mean())
    rep["char_frames"] = total
    rep["char_shown"] = shown / max(total, 1)
    rep["char_false"] = fp / max(fp_total, 1)
    rep["char_false_frames"] = fp_total
    ok = [e for e in entries if e is not None]
    rep["char_entries"] = len(entries)
    rep["char_entry_within_block"] = sum(1 for e in ok if e <= 3) / max(len(entries), 1)
    rep["seconds"] = time.time() - t0
    print(json.dumps(rep, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rep, f, indent=1)


if __name__ == "__main__":
    main()
