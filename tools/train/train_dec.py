"""Fine-tune the default world's decoder (TAEHV, the engine's decoder, names unchanged) on
the latents the DiT actually produces, towards the renderer's frames, with an edge loss:
the DiT's few-step samples are smoother than the autoencoder's latents the decoder was
trained on, so the decoder learns to draw them sharp. The model's inputs stay what they
are (geometry, pose, actions, prompt); the truth frames are only the training targets.

    # 1. the DiT's rollouts of training episodes (the engine's block loop, from the spawn's
    #    opening, driven by the episode's actions, pose and geometry map): latents to disk
    /usr/bin/python3 tools/train/train_dec.py --rollouts --model /work/data/candidate --data /work/data/world \
        --run runs/dec --episodes 60
    # 2. train (resumable: runs/dec/ckpt.pt every 2 minutes)
    /usr/bin/python3 tools/train/train_dec.py --model /work/data/candidate --data /work/data/world --run runs/dec --minutes 25
    # 3. runs/dec/decoder/{config.json, model.safetensors}: the decoder to export (export_default.py --decoder)

The geometry-conditioned decoder (issue 19; `--geometry --widen-last 32`): the decoder also
reads each frame's geometry map of the dataset's frame_geometry.f32 (`npm run dataset --
--frame-geometry 2`: 64x64 at one ray a pixel, the rays the DiT's 16x16 map averages) in
its five plain convs (tools/reference/taehv.py), and its last stage is widened; it starts
as the --model decoder (the new input columns zero) and learns where the map says edges
and characters are, while the latents say how the scene is lit. The map is geometry only
(albedo, coverage, nearness, normals), never the truth's pixels or shading.
    /usr/bin/python3 tools/train/train_dec.py --model models/default --data /work/data/world_chars --run runs/dec_geo \
        --minutes 70 --geometry --widen-last 32 --char-weight 4 --lr 4e-4 --full-frames-last 0
    /usr/bin/python3 tools/train/train_dec.py --run runs/dec_geo --export DIR   # a checkpoint's decoder, mid-run

Loss on clips of 4 whole frames (`--crop 64` trains on 64x64 crops, 4x cheaper, but the
decoder then learns the crops' zero-padded borders: the committed decoder's loss on an 8x8
latent crop is 2-10x its loss on whole frames, and crop fine-tuning measured 1.5-2 dB lower
PSNR on whole held-out streams after 5 minutes): L1 + MSE, plus
`--edge` x L1 between the Sobel gradients (x, y) of model and truth, plus `--hf` x L1
between the local high-frequency energies (mean |Laplacian| of the luma over 8x8 patches),
so the decoder puts edges where the truth has them and texture as strong as the truth's
without having to place every pixel of it.

Measured bound (2026-12-02, the 4 held-out episodes the character dataset's latents cover):
the committed decoder on the autoencoder's own latents of the truth, i.e. before any DiT
error, reaches edge F1 0.54, HF ratio 0.41 and PSNR 29.7 dB, and shows the other character
in 61% of the frames that have one (quick_eval.py's test). Most of the blur is the
autoencoder's (8 latent channels at 16x16, trained 25 minutes), so `--clean 1` (the truth's
latents only) is the first thing to train; 4 minutes of it at 1 thread (~250 steps) moved HF to 0.46
and PSNR to 29.3 dB, F1 and the characters not at all (56 of 110).
"""

import argparse
import json
import os

import torch_env  # noqa: E402

torch_env.prepare()
import numpy as np
import torch
import torch.nn.functional as F

from common import Deadline, Log, WorldData, load_checkpoint, save_checkpoint, setup_threads
import quick_eval as Q
import safetensors_io
import taehv as T
import train_ae


def sobel_xy(x):
    """[N, 3, H, W] -> [N, 6, H-2, W-2] Sobel x and y of each channel."""
    k = torch.cat([Q.SOBEL_X, Q.SOBEL_X.transpose(2, 3)], 0)  # [2, 1, 3, 3]
    k = k.repeat(3, 1, 1, 1)
    return F.conv2d(x.repeat_interleave(2, dim=1), k, groups=6)


def hf_energy(x):
    return F.avg_pool2d(F.conv2d(Q.luma(x), Q.LAP).abs(), 8, 8, ceil_mode=True)


def write_decoder(out, cfg, state):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    safetensors_io.save_file({k: v.float() for k, v in state.items()}, os.path.join(out, "model.safetensors"))


def grow_state(dec, base, gen):
    """`base` (a decoder's state dict) loaded into the possibly larger `dec`: each tensor
    copied into the leading corner of dec's; the new input columns zero (a geometry map's,
    or a widened stage's into the last conv), so the function is unchanged; the new output
    channels of a widened conv random (they must differ to learn anything)."""
    out = {}
    for k, v in dec.state_dict().items():
        b = base[k]
        if tuple(b.shape) == tuple(v.shape):
            out[k] = b
            continue
        t = torch.zeros_like(v)
        if v.dim() == 4 and v.shape[0] > b.shape[0]:  # new output channels: fan-in scaled noise
            t[b.shape[0]:] = torch.randn(v[b.shape[0]:].shape, generator=gen) * (2.0 / v[0].numel()) ** 0.5
        elif v.dim() == 1 and v.shape[0] > b.shape[0]:
            pass  # new biases: zero
        t[tuple(slice(0, n) for n in b.shape)] = b
        out[k] = t
    return out


def make_rollouts(args, log):
    data = WorldData(args.data)
    model, prompts, openings, _ = Q.load_dir(args.model)
    tr, _ = data.split()
    rng = np.random.default_rng(7)
    eps = [tr[i] for i in sorted(rng.choice(len(tr), size=min(args.episodes, len(tr)), replace=False))]
    if args.frames:
        eps = [dict(e, frames=min(e["frames"], args.frames)) for e in eps]
    path = os.path.join(args.run, "rollouts.f32")
    meta_path = path + ".json"
    done = []
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            done = json.load(f)["episodes"]
    with open(path, "ab") as f:
        for k, ep in enumerate(eps):
            if ep["id"] in [d["id"] for d in done]:
                continue
            z = Q.rollout(model, prompts, openings, data, ep, seed=1000 + ep["id"])
            f.write(np.ascontiguousarray(z.numpy(), np.float32).tobytes())
            f.flush()
            done.append({"id": ep["id"], "start": ep["start"], "frames": int(z.shape[0])})
            with open(meta_path + ".tmp", "w") as g:
                json.dump({"episodes": done, "shape": list(z.shape[1:])}, g)
            os.replace(meta_path + ".tmp", meta_path)
            log(f"rollout {len(done)}/{len(eps)}: episode {ep['id']}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/default", help="the model directory whose DiT makes the rollouts and whose decoder starts")
    ap.add_argument("--data", default="/work/data/world")
    ap.add_argument("--run", default="runs/dec")
    ap.add_argument("--rollouts", action="store_true", help="make the rollouts and exit")
    ap.add_argument("--export", default=None, metavar="DIR",
                    help="write the decoder of --run's last checkpoint to DIR (config.json + model.safetensors) and exit")
    ap.add_argument("--episodes", type=int, default=60)
    ap.add_argument("--frames", type=int, default=0, help="rollouts of the first N frames of each episode only (a smoke test)")
    ap.add_argument("--minutes", type=float, default=25.0)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--clip", type=int, default=4)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--full-frames-last", type=float, default=0.2)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--edge", type=float, default=0.5)
    ap.add_argument("--hf", type=float, default=1.0)
    ap.add_argument("--clean", type=float, default=0.25,
                    help="fraction of clips on the autoencoder's own latents of the truth (noised), from every training "
                         "episode the dataset's latents cover; the rest on the rollouts")
    ap.add_argument("--latent-noise", type=float, default=0.1, help="Gaussian noise added to the clean clips' latents")
    ap.add_argument("--geometry", action="store_true",
                    help="make the decoder geometry-conditioned: it reads each frame's map of the dataset's "
                         "frame_geometry.f32 (npm run dataset -- --frame-geometry D) in its five plain convs; the "
                         "new input columns start at zero, so it starts as the --model decoder")
    ap.add_argument("--widen-last", type=int, default=0, help="widen n_f[3] (the last stage's width) to N; the new "
                    "channels start random into zero columns of the last conv (the same function)")
    ap.add_argument("--char-weight", type=float, default=1.0,
                    help="loss weight of the pixels where other characters are (the dataset's charmask16.u8)")
    args = ap.parse_args()
    setup_threads()
    os.makedirs(args.run, exist_ok=True)
    log = Log(os.path.join(args.run, "train.log"))
    if args.rollouts:
        make_rollouts(args, log)
        return
    if args.export:
        ck = load_checkpoint(os.path.join(args.run, "ckpt.pt"))
        if not ck:
            raise SystemExit(f"no checkpoint in {args.run}")
        write_decoder(args.export, ck["config"], ck["decoder"])
        log(f"exported step {ck['step']} to {args.export}")
        return
    data = WorldData(args.data, need_latents=args.clean > 0)
    with open(os.path.join(args.run, "rollouts.f32.json")) as f:
        rm = json.load(f)
    shape = rm["shape"]
    n_tot = sum(e["frames"] for e in rm["episodes"])
    roll = np.fromfile(os.path.join(args.run, "rollouts.f32"), np.float32)[:n_tot * int(np.prod(shape))].reshape(n_tot, *shape)
    # (rollout row, dataset frame) of every clip start; frames 0..2 are the opening (skip them)
    starts, r0 = [], 0
    for e in rm["episodes"]:
        for i in range(3, e["frames"] - args.clip + 1):
            starts.append((r0 + i, e["start"] + i))
        r0 += e["frames"]
    starts = np.asarray(starts)
    # the clean clips: every training episode the autoencoder's latents cover (--encode-episodes)
    clean_starts = np.zeros(0, np.int64)
    if args.clean > 0:
        tr, _ = data.split()
        clean_starts = data.clip_starts([e for e in tr if e["start"] + e["frames"] <= len(data.latents)], args.clip)
    ddir = os.path.join(args.model, "decoder")
    with open(os.path.join(ddir, "config.json")) as f:
        dcfg = json.load(f)
    base = {k: v.float() for k, v in safetensors_io.load_file(os.path.join(ddir, "model.safetensors")).items()}
    fgeo = None
    if args.geometry:
        fg = data.meta.get("frameGeometry")
        if not fg or not os.path.exists(os.path.join(args.data, "frame_geometry.f32")):
            raise SystemExit("--geometry needs the dataset's frame_geometry.f32 (npm run dataset -- --frame-geometry 2 --out DIR)")
        fgeo = np.memmap(os.path.join(args.data, "frame_geometry.f32"), np.float32, "r",
                         shape=(data.N, fg["channels"], fg["height"], fg["width"]))
        dcfg = dict(dcfg, geometry={"channels": fg["channels"], "scale": data.H // fg["height"],
                                    "samples": fg["samples"], "near": fg["near"]})
    if args.widen_last:
        dcfg = dict(dcfg, n_f=list(dcfg["n_f"][:3]) + [args.widen_last])
    dec = T.TaehvDecoder(dcfg)
    dec.load_state_dict(grow_state(dec, base, torch.Generator().manual_seed(5)))
    charmask = None
    if args.char_weight != 1.0:
        charmask = data.charmask16()
    opt = torch.optim.AdamW(dec.parameters(), lr=args.lr, weight_decay=0.0)
    step, spent = 0, 0.0
    ck = load_checkpoint(os.path.join(args.run, "ckpt.pt"))
    if ck:
        dec.load_state_dict(ck["decoder"])
        step, spent = ck["step"], ck["spent"]
        if "opt" in ck:
            opt.load_state_dict(ck["opt"])
        log(f"resumed at step {step} ({spent / 60:.1f} min)")
    log(f"decoder fine-tune: {len(rm['episodes'])} rollout episodes, {len(starts)} clips; {len(clean_starts)} clean clips, {args.clean:g} of each batch")
    rng = np.random.default_rng(step)
    dl = Deadline(args.minutes, spent)
    last_ck = dl.spent
    avg = None

    def save(final=False):
        save_checkpoint(os.path.join(args.run, "ckpt.pt"), decoder=dec.state_dict(), opt=opt.state_dict(), step=step,
                        spent=dl.spent, config=dcfg)
        if final:
            write_decoder(os.path.join(args.run, "decoder"), dcfg, dec.state_dict())

    while not dl.over():
        frac = dl.spent / dl.limit
        full = frac > 1.0 - args.full_frames_last
        lr = args.lr * min(1.0, (step + 1) / 50) * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * min(frac, 1.0))))
        for g in opt.param_groups:
            g["lr"] = lr
        B = max(1, args.batch // 4) if full else args.batch
        zs, xs, gs, ms = [], [], [], []
        for _ in range(B):
            if len(clean_starts) and rng.random() < args.clean:
                fr = int(clean_starts[rng.integers(0, len(clean_starts))])
                z = torch.from_numpy(np.ascontiguousarray(data.latents[fr:fr + args.clip]))
                z = z + args.latent_noise * torch.randn_like(z)
            else:
                r, fr = starts[rng.integers(0, len(starts))]
                z = torch.from_numpy(np.ascontiguousarray(roll[r:r + args.clip]))
            x = data.frames_tensor(int(fr), args.clip)
            if fgeo is not None:
                gs.append(torch.from_numpy(np.ascontiguousarray(fgeo[int(fr):int(fr) + args.clip])))
            if charmask is not None:
                m = torch.from_numpy(np.ascontiguousarray(charmask[int(fr):int(fr) + args.clip])).float()[:, None]
                ms.append(1.0 + (args.char_weight - 1.0) * m.repeat_interleave(8, 2).repeat_interleave(8, 3))
            if not full and args.crop < data.H and fgeo is None and charmask is None:
                c = args.crop // 8
                i = int(rng.integers(0, z.shape[2] - c + 1))
                j = int(rng.integers(0, z.shape[3] - c + 1))
                z = z[:, :, i:i + c, j:j + c]
                x = x[:, :, i * 8:(i + c) * 8, j * 8:(j + c) * 8]
            zs.append(z)
            xs.append(x)
        z, x = torch.stack(zs), torch.stack(xs)
        y = train_ae.decode(dec, z, torch.stack(gs) if gs else None)
        yf, xf = y.flatten(0, 1), x.flatten(0, 1)
        if ms:
            wpx = torch.stack(ms).flatten(0, 1)
            d = yf - xf
            rec = (wpx * (d * d + 0.5 * d.abs())).mean() / wpx.mean()
        else:
            rec = F.mse_loss(yf, xf) + 0.5 * F.l1_loss(yf, xf)
        edge = F.l1_loss(sobel_xy(yf), sobel_xy(xf))
        hf = F.l1_loss(hf_energy(yf), hf_energy(xf))
        loss = rec + args.edge * edge + args.hf * hf
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(dec.parameters(), 1.0)
        opt.step()
        step += 1
        v = np.array([rec.item(), edge.item(), hf.item()])
        avg = v if avg is None else 0.98 * avg + 0.02 * v
        log.bar(int(dl.spent), int(dl.limit), f"step {step} rec {avg[0]:.4f} edge {avg[1]:.4f} hf {avg[2]:.4f}")
        if step % 100 == 0:
            log(f"step {step} rec {avg[0]:.5f} edge {avg[1]:.5f} hf {avg[2]:.5f} lr {lr:.1e} ({dl.spent / 60:.1f} min)")
        if dl.spent - last_ck > 120:
            save()
            last_ck = dl.spent
    save(final=True)
    log(f"done: step {step}, {dl.spent / 60:.1f} min; wrote {os.path.join(args.run, 'decoder')}")


if __name__ == "__main__":
    main()
