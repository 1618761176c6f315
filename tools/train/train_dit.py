"""Train the default world's causal DiT (Wan2.1 family: tools/reference/wan_causal.py's
CausalWanModel, same config schema and tensor names) on the autoencoder's latents.

    /usr/bin/python3 tools/train/train_dit.py --data data/world --run runs/dit --minutes 70
    /usr/bin/python3 tools/train/train_dit.py --selftest     # the batched training forward == the reference loop

Recipe (diffusion forcing under the block-causal mask):
  * a training sample is a clip of `--frames` latent frames (a multiple of the block size)
    with its per-frame actions and per-frame prompt; the actions are the keys and mouse of
    the dataset, then the character's pose as features (wan_causal.pose_features, config
    `action.pose`), zeroed for POSE_DROPOUT of the clips so the model also runs without it;
    with the dataset's geometry.f32, each frame's map of the level in view joins the noisy
    latents as input channels (config `action.geometry`; zeroed for GEOMETRY_DROPOUT);
  * every frame gets its own noise level sigma (rectified flow, x_t = (1-sigma) x0 +
    sigma eps, target v = eps - x0, t = 1000 sigma); how sigmas are drawn per sample:
    "no context" (NO_CONTEXT, 20%: earlier blocks pure noise, the last uniform), else
    independent per frame (30%), one per block (40%), or "history clean": earlier blocks at
    sigma = 0 or a little noise (the engine's commit pass sees clean context) and the last
    block uniform (30%); own-prediction context on top (SELF_CONTEXT, below);
  * attention: frame i of block b sees the frames of blocks <= b that the engine's window
    (local_attn_size frames including the block) keeps, i.e. exactly what the engine's
    KV selection gives at inference;
  * cross-attention is per frame (a prompt switch inside a clip changes the prompt from
    that frame on); the prompt embeddings are a learned table (exported to prompts.safetensors).
Resumable: `--run` holds ckpt.pt (every 2 minutes), train.log, an EMA of the weights. A
weights-only head start trained without the pose gets zero pose columns in its action MLP,
one trained without the map zero geometry columns in its patch embedding (the same function
either way), and learns them from there.
"""

import argparse
import json
import os

import torch_env  # noqa: E402  (before torch: OpenMP and OpenBLAS settings)

torch_env.prepare()
import math

import numpy as np
import torch
import torch.nn.functional as F

from common import Deadline, Log, WorldData, load_checkpoint, save_checkpoint, setup_threads
import wan_causal as W

DIT_CONFIG = {
    "_class_name": "CausalWanModel",
    "model_type": "t2v",
    "patch_size": [1, 2, 2],
    "text_len": 2,
    "in_dim": 8,
    "dim": 192,
    "ffn_dim": 768,
    "freq_dim": 256,
    "text_dim": 32,
    "out_dim": 8,
    "num_heads": 3,
    "num_layers": 6,
    "window_size": [-1, -1],
    "qk_norm": True,
    "cross_attn_norm": True,
    "eps": 1e-6,
    "num_frame_per_block": 3,
    "local_attn_size": 12,
    "sink_size": 0,
    # The sampler, not the training: diffusion forcing trains every noise level. Two steps
    # measure within 0.5 dB of four for 3 forwards a block instead of 5 (MODEL_CARD, "Sampler").
    "denoising_step_list": [1000, 500],
    "warp_denoising_step": False,
    "timestep_shift": 5.0,
    "num_train_timesteps": 1000,
    "context_noise": 0,
    "latent_height": 16,
    "latent_width": 16,
}

# The character's pose as extra action channels (wan_causal.pose_features): where the player
# stands and looks, from the game server's physics, so the model can put walls where walls
# are after its attention window has forgotten the opening. Dropped (all zero) for
# POSE_DROPOUT of the clips, so the model also runs from keys and mouse alone.
POSE = {"extent": 12.0, "height": 3.0, "frequencies": [1, 2, 4]}
POSE_DROPOUT = 0.2
# Own-prediction context against drift (exposure bias): for SELF_CONTEXT of the clips, the
# blocks before the last are replaced by the model's one-step predictions x0_hat from the
# truth noised to a per-block sigma in SELF_CONTEXT_SIGMA (a no-grad forward), committed clean
# as the engine commits its own outputs; the last block is trained on that context (loss on
# it only), so the model learns to continue from blurry, slightly wrong frames of its own
# kind towards the truth, with the actions and the pose.
SELF_CONTEXT = 0.3
SELF_CONTEXT_SIGMA = (0.15, 0.6)
# The level's geometry in view as extra input channels (config `action.geometry`, render.ts
# renderGeometry at the latent size: albedo, coverage, nearness, normal per latent pixel):
# the game server knows its level and the character's pose, so it hands the model a coarse,
# lighting-free map of what is in view and the model paints the frame (lighting, fog, sky,
# texture) -- walls stay where walls are however long the rollout. Concatenated after the
# noisy latents before the patch embedding (Wan's i2v concatenation); all zero ("absent")
# for GEOMETRY_DROPOUT of the clips so the model also runs without it.
GEOMETRY_DROPOUT = 0.1
# The geometry columns of the patch embedding are trained as W' with W = GEOMETRY_SCALE * W'
# (the map enters the training forward scaled by it; engine_weights() folds it into the
# exported weights): a new input added to a trained network as zero columns otherwise
# learns ~10x slower than it needs to (Adam moves W' by ~lr a step whatever its scale).
GEOMETRY_SCALE = 8.0
# "No context" clips: for NO_CONTEXT of the clips every block before the last is pure noise
# (sigma 1), so the model must paint those frames from the geometry, pose and prompt alone --
# what it needs when its own history has drifted away from the level.
NO_CONTEXT = 0.2


# ---------------------------------------------------------------------------------------
# batched training forward (float32), the same math as CausalWanModel.forward_block
# ---------------------------------------------------------------------------------------

def rope_cos_sin(head_dim, f, h, w):
    tab = W.rope_table(head_dim, 0, f, h, w)  # complex128 [L, hd/2]
    return tab.real, tab.imag


def apply_rope(x, cos, sin):
    """x [B, L, n, d]; adjacent pairs rotated by the angles of cos/sin [L, d/2]."""
    xe, xo = x[..., 0::2], x[..., 1::2]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    return torch.stack([xe * c - xo * s, xe * s + xo * c], dim=-1).flatten(-2)


def block_windows(num_frames, block, window):
    """Per block b: (first, end) frame range of the keys the engine's selection gives its
    queries: the block itself and the `window - block` frames before it (all earlier ones
    when window < 0). No mask is needed inside a range."""
    past = num_frames if window < 0 else window - block
    return [(max(0, b - past), b + block) for b in range(0, num_frames, block)]


def forward_train(model, x, t, ctx, actions, windows, geometry=None):
    """x [B, C, T, H, W]; t [B, T] timesteps; ctx [B, T, text_len, text_dim] (per-frame prompt,
    already padded); actions [B, T, A]; windows: block_windows(...); geometry [B, G, T, H, W]
    (models with `action.geometry`). Returns v [B, C, T, H, W]."""
    B, C, Tn, H, Wd = x.shape
    dim, n, d = model.dim, model.num_heads, model.head_dim
    tok = model.patch_embedding(x if geometry is None else torch.cat([x, geometry * GEOMETRY_SCALE], dim=1))
    fh, fw = tok.shape[3:]
    S = fh * fw
    L = Tn * S
    tok = tok.flatten(2).transpose(1, 2)  # [B, L, dim]
    sin_emb = W.sinusoidal_embedding(model.freq_dim, t.reshape(-1)).to(x.dtype)
    e = model.time_embedding(sin_emb)
    if model.action_embedding is not None:
        e = e + model.action_embedding(actions.reshape(B * Tn, -1))
    e0 = model.time_projection(e).view(B, Tn, 6, dim)
    e = e.view(B, Tn, dim)
    cos, sin = rope_cos_sin(d, Tn, fh, fw)
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    ctx_e = model.text_embedding(ctx)  # [B, T, text_len, dim]
    tl = ctx_e.shape[2]
    scale = 1.0 / math.sqrt(d)
    for blk in model.blocks:
        m = blk.modulation[None] + e0  # [B, T, 6, dim]
        sh1, sc1, g1, sh2, sc2, g2 = [m[:, :, i, None, :] for i in range(6)]  # [B, T, 1, dim]

        def per_frame(z):
            return z.view(B, Tn, S, dim)

        h = (per_frame(blk.norm1(tok)) * (1 + sc1) + sh1).reshape(B, L, dim)
        sa = blk.self_attn
        q = apply_rope(sa.norm_q(sa.q(h)).view(B, L, n, d), cos, sin).transpose(1, 2) * scale
        k = apply_rope(sa.norm_k(sa.k(h)).view(B, L, n, d), cos, sin).transpose(1, 2)
        v = sa.v(h).view(B, L, n, d).transpose(1, 2)
        # per-frame chunks: backward of split/cat is a cheap split/cat (slicing would zero-fill)
        qf, kf, vf = q.split(S, dim=2), k.split(S, dim=2), v.split(S, dim=2)
        ys = []
        for (k0, k1), q0 in zip(windows, range(0, Tn, windows[0][1])):
            qb = torch.cat(qf[q0:k1], dim=2)
            a = torch.softmax(qb @ torch.cat(kf[k0:k1], dim=2).transpose(-1, -2), dim=-1)
            ys.append(a @ torch.cat(vf[k0:k1], dim=2))
        y = torch.cat(ys, dim=2).transpose(1, 2).reshape(B, L, dim)
        tok = tok + (per_frame(sa.o(y)) * g1).reshape(B, L, dim)
        ca = blk.cross_attn
        qc = ca.norm_q(ca.q(blk.norm3(tok))).view(B, Tn, S, n, d)
        kc = ca.norm_k(ca.k(ctx_e)).view(B, Tn, tl, n, d)
        vc = ca.v(ctx_e).view(B, Tn, tl, n, d)
        ac = torch.softmax(torch.einsum("btsnd,btknd->btnsk", qc, kc) * scale, dim=-1)
        yc = torch.einsum("btnsk,btknd->btsnd", ac, vc).reshape(B, L, dim)
        tok = tok + ca.o(yc)
        h = (per_frame(blk.norm2(tok)) * (1 + sc2) + sh2).reshape(B, L, dim)
        tok = tok + (per_frame(blk.ffn(h)) * g2).reshape(B, L, dim)
    hd = model.head
    mh = hd.modulation[None] + e[:, :, None, :]  # [B, T, 2, dim]
    shift, sc = mh[:, :, 0:1, :], mh[:, :, 1:2, :]
    out = hd.head((hd.norm(tok).view(B, Tn, S, dim) * (1 + sc) + shift).reshape(B, L, dim))
    c = model.out_dim
    out = out.view(B, Tn, fh, fw, 1, 2, 2, c).permute(0, 7, 1, 4, 2, 5, 3, 6)
    return out.reshape(B, c, Tn, fh * 2, fw * 2)


def engine_weights(state_dict, cfg):
    """The weights the engine (and the reference) run: the training state dict with the
    geometry columns of the patch embedding scaled by GEOMETRY_SCALE (see above)."""
    sd = dict(state_dict)
    if W.geometry_channels(cfg.get("action")):
        w = sd["patch_embedding.weight"].clone()
        w[:, cfg["out_dim"]:] *= GEOMETRY_SCALE
        sd["patch_embedding.weight"] = w
    return sd


def pad_prompt(table, idx, text_len):
    """Learned table [P, rows, text_dim] and prompt indices [B, T] -> [B, T, text_len, text_dim]."""
    e = table[idx]
    if e.shape[2] < text_len:
        e = torch.cat([e, e.new_zeros(*e.shape[:2], text_len - e.shape[2], e.shape[3])], dim=2)
    return e


# ---------------------------------------------------------------------------------------

def draw_sigmas(rng, B, Tn, block):
    nb = Tn // block
    out = np.zeros((B, Tn), np.float32)
    for b in range(B):
        if rng.random() < NO_CONTEXT:  # no context: the history is pure noise
            out[b] = np.repeat(np.concatenate([np.ones(nb - 1), rng.random(1)]), block)
            continue
        r = rng.random()
        if r < 0.3:
            out[b] = rng.random(Tn)
        elif r < 0.7:
            out[b] = np.repeat(rng.random(nb), block)
        else:
            hist = np.where(rng.random(nb - 1) < 0.5, 0.0, rng.random(nb - 1) * 0.1)
            out[b] = np.repeat(np.concatenate([hist, rng.random(1)]), block)
    return out


def sample_batch(data, starts, rng, B, Tn, pose_cfg=None, geometry=False, idx_out=None):
    """(x0 [B, C, T, h, w], actions [B, T, A], prompts [B, T], geometry [B, G, T, h, w] or None);
    `idx_out` (a list) receives the clips' first frame indices."""
    idx = rng.choice(starts, size=B)
    if idx_out is not None:
        idx_out.extend(int(i) for i in idx)
    x = np.stack([data.latents[s:s + Tn] for s in idx])  # [B, T, C, h, w]
    a = np.stack([data.actions[s:s + Tn] for s in idx])
    if pose_cfg:
        feats = W.pose_features(pose_cfg, np.stack([data.poses[s:s + Tn] for s in idx]))
        feats *= (rng.random(B) >= POSE_DROPOUT).astype(np.float32)[:, None, None]
        a = np.concatenate([a, feats], axis=2)
    p = np.stack([data.prompts[s:s + Tn] for s in idx]).astype(np.int64)
    g = None
    if geometry:
        gm = np.stack([data.geometry[s:s + Tn] for s in idx])  # [B, T, G, h, w]
        gm *= (rng.random(B) >= GEOMETRY_DROPOUT).astype(np.float32)[:, None, None, None, None]
        g = torch.from_numpy(gm).permute(0, 2, 1, 3, 4).contiguous()
    return (torch.from_numpy(x).permute(0, 2, 1, 3, 4).contiguous(), torch.from_numpy(a), torch.from_numpy(p), g)


def loss_on(model, table, batch, sig, windows, cfg, weight=None, pixel_weight=None):
    """Flow-matching loss; `weight` [B, T] (optional) weighs the frames, `pixel_weight`
    [B, T, h, w] (optional, mean ~1) the latent pixels (the other characters' pixels)."""
    x0, a, p, g = batch[:4]
    ctx_x0 = batch[4] if len(batch) > 4 else x0  # what the model sees (own-prediction context) vs the target
    sig_t = torch.from_numpy(sig)
    eps = torch.randn_like(x0)
    s = sig_t[:, None, :, None, None]
    xt = (1 - s) * ctx_x0 + s * eps
    v = forward_train(model, xt, sig_t * cfg["num_train_timesteps"], pad_prompt(table, p, cfg["text_len"]), a, windows, g)
    err = (v - (eps - x0)) ** 2
    if pixel_weight is not None:
        err = err * pixel_weight[:, None]
    if weight is None:
        return err.mean()
    per_frame = err.mean(dim=(1, 3, 4))  # [B, T]
    w = torch.from_numpy(weight)
    return (per_frame * w).sum() / w.sum()


def self_context(model, table, batch, sig, rng, Fb, windows, cfg):
    """Own-prediction context for SELF_CONTEXT of the clips (see above): returns the batch with
    the model's context latents, the sigmas and the frame weights."""
    x0, a, p, g = batch
    B, _, Tn = x0.shape[:3]
    rows = np.nonzero(rng.random(B) < SELF_CONTEXT)[0]
    weight = np.ones((B, Tn), np.float32)
    if len(rows) == 0:
        return batch, sig, weight
    nb = Tn // Fb
    lo, hi = SELF_CONTEXT_SIGMA
    ss = np.repeat(lo + (hi - lo) * rng.random((len(rows), nb)), Fb, axis=1).astype(np.float32)
    r = torch.from_numpy(rows)
    xr = x0[r]
    s = torch.from_numpy(ss)[:, None, :, None, None]
    xs = (1 - s) * xr + s * torch.randn_like(xr)
    with torch.no_grad():
        v = forward_train(model, xs, torch.from_numpy(ss) * cfg["num_train_timesteps"],
                          pad_prompt(table, p[r], cfg["text_len"]), a[r], windows, None if g is None else g[r])
    hat = xs - s * v
    ctx = x0.clone()
    hist = Tn - Fb
    ctx[r, :, :hist] = hat[:, :, :hist]
    sig = sig.copy()
    sig[rows, :hist] = 0.0  # committed clean, as the engine commits its own blocks
    sig[rows, hist:] = rng.random((len(rows), 1))  # the block being made: one level
    weight[rows, :hist] = 0.0
    return (x0, a, p, g, ctx), sig, weight


def selftest():
    """The batched forward equals the reference block loop (clean history committed at t=0)."""
    torch.manual_seed(0)
    G = 2  # geometry channels
    cfg = dict(DIT_CONFIG, dim=48, ffn_dim=96, num_heads=2, num_layers=2, in_dim=4 + G, out_dim=4, text_dim=8,
               local_attn_size=9, latent_height=4, latent_width=4,
               action={"mode": "additive", "keys": ["w", "a"], "mouse": [{"name": "dx", "min": -1, "max": 1}],
                       "geometry": {"channels": G}})
    model = W.CausalWanModel(cfg).double()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    trained = model  # the training parametrization; the reference runs engine_weights() of it
    model = W.CausalWanModel(cfg).double()
    model.load_state_dict(engine_weights(trained.state_dict(), cfg))
    Tn, Fb = 12, 3
    x0 = torch.randn(4, Tn, 4, 4, dtype=torch.float64)
    acts = torch.randn(Tn, 3, dtype=torch.float64)
    geo = torch.randn(G, Tn, 4, 4, dtype=torch.float64)
    rows = torch.cat([acts, geo.permute(1, 0, 2, 3).reshape(Tn, -1)], dim=1)  # the engine's action rows
    ctx = torch.randn(2, 8, dtype=torch.float64)
    t_last = 700.0
    xt = x0.clone()
    noise = torch.randn(4, Fb, 4, 4, dtype=torch.float64)
    xt[:, -Fb:] = noise
    # reference: commit blocks 0..2 clean at t=0, then a probe of block 3 at t_last
    kv = model.new_kv_state()
    for b in range(Tn // Fb - 1):
        sl = slice(b * Fb, (b + 1) * Fb)
        model.forward_block(x0[:, sl], torch.zeros(Fb), b * Fb, ctx, rows[sl], kv, commit=True)
        kv.prune((b + 1) * Fb, Fb)
    ref = model.forward_block(xt[:, -Fb:], torch.full((Fb,), t_last), Tn - Fb, ctx, rows[-Fb:], kv)
    t = torch.zeros(1, Tn, dtype=torch.float64)
    t[0, -Fb:] = t_last
    wins = block_windows(Tn, Fb, cfg["local_attn_size"])
    with torch.no_grad():
        got = forward_train(trained, xt[None], t, ctx[None, None].expand(1, Tn, 2, 8), acts[None], wins, geo[None])[0]
    err = (got[:, -Fb:] - ref).abs().max().item()
    print(f"selftest: max |batched - reference| = {err:.3e}")
    assert err < 1e-9, err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data/world")
    ap.add_argument("--latents", default="latents.f32",
                    help="the encoded frames in --data to train on (train_ae.py --encode --latents FILE)")
    ap.add_argument("--run", default="runs/dit")
    ap.add_argument("--minutes", type=float, default=70.0)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--frames", type=int, default=15)
    ap.add_argument("--lr", type=float, default=4e-4)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--ema", type=float, default=0.998)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--restart-minutes", type=float, default=0.0,
                    help="fine-tune: a warm restart of the learning rate (warmup, then a cosine over these "
                         "minutes, from the step the restart began), the run ending after them")
    ap.add_argument("--init", metavar="PATH", default=None,
                    help="when --run has no checkpoint: start from this one (another run's ckpt.pt or a head "
                         "start) without its warm restart, e.g. a new --restart-minutes stage")
    ap.add_argument("--restart-lr", type=float, default=2e-4, help="peak learning rate of the warm restart")
    ap.add_argument("--restart-steps", type=int, default=0,
                    help="with --restart-minutes: the cosine spans these many steps instead of the minutes (on a "
                         "shared machine the steps a minute buys vary), the run ending after them or the minutes")
    ap.add_argument("--char-weight", type=float, default=1.0,
                    help="loss weight of the latent pixels where other characters are (the dataset's "
                         "charmask16.u8, tools/train/char_masks.ts)")
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--no-geometry", action="store_true", help="train without the dataset's geometry.f32")
    ap.add_argument("--config", default=None, help="JSON overrides of the DiT config")
    ap.add_argument("--export-weights", metavar="PATH", default=None,
                    help="write the run's EMA weights without the optimizer state (a head start to commit) and exit")
    args = ap.parse_args()
    if args.selftest:
        selftest()
        return
    threads = setup_threads()
    log = Log(os.path.join(args.run, "train.log"))
    data = WorldData(args.data, need_latents=True, latents=args.latents)
    cfg = dict(DIT_CONFIG)
    cfg["action"] = {"mode": "additive", **data.meta["actionSpace"], "pose": POSE}
    cfg["in_dim"] = cfg["out_dim"] = data.latents.shape[1]
    if data.geometry is not None and not args.no_geometry:
        gm = data.meta["geometry"]
        cfg["action"]["geometry"] = {"channels": gm["channels"], "samples": gm["samples"], "near": gm["near"]}
        cfg["in_dim"] += gm["channels"]
    cfg["latent_height"], cfg["latent_width"] = data.latents.shape[2], data.latents.shape[3]
    if args.config:
        cfg.update(json.loads(args.config))
    torch.manual_seed(args.seed)
    model = W.CausalWanModel(cfg).float()
    P = len(data.meta["prompts"])
    table = torch.nn.Parameter(torch.randn(P, cfg["text_len"], cfg["text_dim"]))
    params = list(model.parameters()) + [table]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01, betas=(0.9, 0.99))
    ema = [p.detach().clone() for p in params]
    step, spent = 0, 0.0
    ck = load_checkpoint(os.path.join(args.run, "ckpt.pt"))
    if ck is None and args.init:
        # a new stage from another run's checkpoint: its weights, EMA and optimizer state (a
        # weights-only head start: its EMA weights), without its warm restart, so that
        # --restart-minutes begins a new one here
        ck = load_checkpoint(args.init)
        if ck is None:
            raise SystemExit(f"--init {args.init}: no such checkpoint")
        ck.pop("restart", None)
        log(f"starting from {args.init} (its step {ck['step']}), a new stage")
    warm_from = 0  # the step the learning-rate warmup counts from
    restart = None  # (step, spent seconds) where a warm restart began
    if ck:
        ck_cfg = ck["config"]
        if "opt" not in ck and cfg["action"] and cfg["action"].get("pose") and not (ck_cfg["action"] or {}).get("pose"):
            # a head start trained without the pose: its action MLP gets zero columns for the
            # pose features (the same function as before), learned from here on
            w0 = ck["model"]["action_embedding.0.weight"]
            pad = w0.new_zeros(w0.shape[0], W.pose_width(cfg["action"]["pose"]))
            ck["model"]["action_embedding.0.weight"] = torch.cat([w0, pad], dim=1)
            ck_cfg = dict(ck_cfg, action=cfg["action"])
            log(f"pose features added to the head start's actions: {json.dumps(cfg['action']['pose'])}")
        if "opt" not in ck and (cfg["action"] or {}).get("geometry") and ck_cfg["in_dim"] < cfg["in_dim"]:
            # a head start trained without the geometry: zero patch-embedding weights for the
            # geometry channels (the same function as before), learned from here on
            w0 = ck["model"]["patch_embedding.weight"]
            pad = w0.new_zeros(w0.shape[0], cfg["in_dim"] - w0.shape[1], *w0.shape[2:])
            ck["model"]["patch_embedding.weight"] = torch.cat([w0, pad], dim=1)
            ck_cfg = dict(ck_cfg, in_dim=cfg["in_dim"], action=cfg["action"])
            log(f"geometry channels added to the head start's input: {json.dumps(cfg['action']['geometry'])}")
        model.load_state_dict(ck["model"])
        with torch.no_grad():
            table.copy_(ck["prompts"])
        step, spent = ck["step"], ck["spent"]
        cfg = ck_cfg
        if "opt" in ck:
            opt.load_state_dict(ck["opt"])
            ema = ck["ema"]
            restart = ck.get("restart")
            if restart:
                warm_from = restart[0]
            log(f"resumed at step {step} ({spent / 60:.1f} min spent)")
        else:  # a committed head start (--export-weights): EMA weights, a fresh optimizer warmed up again
            ema = [p.detach().clone() for p in params]
            warm_from = step
            restart = ck.get("restart")  # a head start exported during (or after) a warm restart
            log(f"started from weights-only checkpoint at step {step} ({spent / 60:.1f} min spent)")
    if args.export_weights:
        if not ck:
            raise SystemExit(f"no checkpoint in {args.run} to export")
        sd = model.state_dict()
        for (name, _), e in zip(model.named_parameters(), ema[:-1]):
            sd[name] = e.detach().clone()
        save_checkpoint(args.export_weights, model=sd, prompts=ema[-1].detach().clone(), step=step, spent=spent,
                        config=cfg, restart=restart)
        log(f"wrote weights-only checkpoint {args.export_weights} (EMA weights, step {step}, {spent / 60:.1f} min)")
        return
    Fb, Tn = cfg["num_frame_per_block"], args.frames
    assert Tn % Fb == 0
    tr, va = data.split()
    tr_starts, va_starts = data.clip_starts(tr, Tn), data.clip_starts(va, Tn)
    windows = block_windows(Tn, Fb, cfg["local_attn_size"])
    pose_cfg = (cfg["action"] or {}).get("pose")
    use_geo = bool((cfg["action"] or {}).get("geometry"))
    log(f"DiT: {sum(p.numel() for p in model.parameters())} params, {len(tr_starts)} train clips, "
        f"{threads} threads, config {json.dumps({k: cfg[k] for k in ('dim', 'num_layers', 'num_heads', 'ffn_dim', 'local_attn_size')})}")
    if args.restart_minutes > 0 and restart is None:
        restart = (step, spent)
        warm_from = step
        log(f"warm restart at step {step}: peak lr {args.restart_lr:g}, {args.restart_minutes:g} min")
    charmask = None
    if args.char_weight != 1.0 and os.path.exists(os.path.join(args.data, "charmask16.u8")):
        charmask = np.fromfile(os.path.join(args.data, "charmask16.u8"), np.uint8).reshape(
            data.N, cfg["latent_height"], cfg["latent_width"])
        log(f"character pixels weighted x{args.char_weight:g} ({charmask.mean() * 100:.2f}% of latent pixels)")
    rng = np.random.default_rng(args.seed + step)
    vrng_seed = 99
    dl = Deadline(args.minutes if restart is None else (restart[1] / 60 + args.restart_minutes), spent)
    last_ck = dl.spent
    avg = None

    def checkpoint():
        save_checkpoint(os.path.join(args.run, "ckpt.pt"), model=model.state_dict(), prompts=table.detach(),
                        opt=opt.state_dict(), ema=ema, step=step, spent=dl.spent, config=cfg, restart=restart)

    def val_loss():
        vr = np.random.default_rng(vrng_seed)
        tot = 0.0
        with torch.no_grad():
            for _ in range(4):
                batch = sample_batch(data, va_starts, vr, args.batch, Tn, pose_cfg, use_geo)
                tot += loss_on(model, table, batch, draw_sigmas(vr, args.batch, Tn, Fb), windows, cfg).item()
        return tot / 4

    while not dl.over():
        if restart is None:
            frac = min(dl.spent / dl.limit, 1.0)
            peak = args.lr
        elif args.restart_steps > 0:
            if step - restart[0] >= args.restart_steps:
                break
            frac = (step - restart[0]) / args.restart_steps
            peak = args.restart_lr
        else:
            frac = min((dl.spent - restart[1]) / max(dl.limit - restart[1], 1.0), 1.0)
            peak = args.restart_lr
        lr = peak * min(1.0, (step + 1 - warm_from) / args.warmup) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = []
        batch = sample_batch(data, tr_starts, rng, args.batch, Tn, pose_cfg, use_geo, idx)
        batch, sig, weight = self_context(model, table, batch, draw_sigmas(rng, args.batch, Tn, Fb), rng, Fb, windows, cfg)
        pw = None
        if charmask is not None:
            m = np.stack([charmask[s:s + Tn] for s in idx]).astype(np.float32)
            pw = torch.from_numpy(1.0 + (args.char_weight - 1.0) * m)
        loss = loss_on(model, table, batch, sig, windows, cfg, weight, pw)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        with torch.no_grad():
            for e_, p_ in zip(ema, params):
                e_.mul_(args.ema).add_(p_.detach(), alpha=1 - args.ema)
        step += 1
        avg = loss.item() if avg is None else 0.98 * avg + 0.02 * loss.item()
        log.bar(int(dl.spent), int(dl.limit), f"step {step} loss {avg:.4f} lr {lr:.1e}")
        if step % 200 == 0:
            log(f"step {step} loss {avg:.5f} val {val_loss():.5f} ({dl.spent / 60:.1f} min)")
        if dl.spent - last_ck > 120:
            checkpoint()
            last_ck = dl.spent
    checkpoint()
    v = val_loss()
    log(f"done: step {step}, {dl.spent / 60:.1f} min, val loss {v:.5f}")
    with open(os.path.join(args.run, "metrics.json"), "w") as f:
        json.dump({"steps": step, "minutes": dl.spent / 60, "val_loss": v, "threads": threads,
                   "batch": args.batch, "frames": Tn}, f)


if __name__ == "__main__":
    main()
