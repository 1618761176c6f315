"""PyTorch (CPU) reference of the Wan2.1 causal DiT family as Self Forcing runs it.

This is worldcast's executable spec (see ARCHITECTURE.md, "The model-family contract").
It is written from the semantics of the upstream Self Forcing code
(wan/modules/causal_model.py `_forward_inference`, pipeline/causal_inference.py,
utils/scheduler.py, utils/wan_wrapper.py), not copied from it; tools/reference/
check_upstream.py verifies it against that code.

Parameter names and shapes are exactly those of upstream `CausalWanModel.state_dict()`,
plus the optional additive action module (`action_embedding.*`) of worldcast, whose action
vector may end with the character's pose as features (`action.pose`, pose_features), and
whose per-frame action row may end with a map of the level's geometry in view
(`action.geometry`: [channels, H, W] per frame, concatenated after the latents as extra
input channels, in_dim = out_dim + channels, as Wan's i2v input concatenates its condition).

Layouts: a latent block is [C, F, H, W] (channels, latent frames, height, width);
tokens are ordered (f, h, w) row-major; timesteps are one per latent frame, t: [F].

Main entry points
    load_model(dir, dtype)           config.json + model.safetensors -> CausalWanModel
    CausalWanModel.forward_block(x, t, frame_start, context, actions, kv, commit) -> v
    KVState                          per-session committed K/V + cross-attention cache
    FlowMatchSchedule                the shifted flow-matching table and warped step list
    Rollout                          the Self Forcing block loop (denoise steps + commit)
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

# Upstream CausalWanModel constructor arguments and their defaults.
MODEL_DEFAULTS = {
    "model_type": "t2v",
    "patch_size": [1, 2, 2],
    "text_len": 512,
    "in_dim": 16,
    "dim": 2048,
    "ffn_dim": 8192,
    "freq_dim": 256,
    "text_dim": 4096,
    "out_dim": 16,
    "num_heads": 16,
    "num_layers": 32,
    "qk_norm": True,
    "cross_attn_norm": True,
    "eps": 1e-6,
}

# worldcast's causal-loop keys and their defaults (Self Forcing's self_forcing_dmd.yaml).
LOOP_DEFAULTS = {
    "num_frame_per_block": 3,
    "local_attn_size": -1,
    "sink_size": 0,
    "denoising_step_list": [1000, 750, 500, 250],
    "warp_denoising_step": True,
    "timestep_shift": 5.0,
    "num_train_timesteps": 1000,
    "context_noise": 0,
}

ROPE_THETA = 10000.0
TIME_THETA = 10000.0


def full_config(cfg):
    """Config dict with upstream-constructor and loop defaults filled in."""
    out = dict(MODEL_DEFAULTS)
    out.update(LOOP_DEFAULTS)
    out.setdefault("action", None)
    out.setdefault("decoder", None)
    out.update(cfg)
    return out


def action_dim(action_cfg):
    """Width of the action vector: one entry per keyboard key, one per mouse axis, then the
    pose features when the model takes the character's pose (`action.pose`)."""
    if not action_cfg:
        return 0
    return len(action_cfg.get("keys", [])) + len(action_cfg.get("mouse", [])) + pose_width(action_cfg.get("pose"))


def geometry_channels(action_cfg):
    """Channels of the geometry map each action row ends with (0 without `action.geometry`)."""
    g = (action_cfg or {}).get("geometry")
    return int(g["channels"]) if g else 0


def action_row(action_cfg, h, w):
    """Floats of one frame's action row at latent size h x w: the vector, then the geometry map."""
    return action_dim(action_cfg) + geometry_channels(action_cfg) * h * w


def pose_width(pose_cfg):
    """Channels of the pose features: present, x, y, z, sin yaw, cos yaw, pitch, then
    sin/cos of pi*f*x and pi*f*z for every frequency f."""
    if not pose_cfg:
        return 0
    return 7 + 4 * len(pose_cfg.get("frequencies", []))


def pose_features(pose_cfg, poses):
    """The character's pose [..., 5] (foot x, y, z in m, yaw, pitch in rad) -> features
    [..., pose_width]: 1 (present), x/extent, y/height, z/extent, sin yaw, cos yaw, pitch,
    then per frequency f: sin(pi f x/extent), cos(pi f x/extent), sin(pi f z/extent),
    cos(pi f z/extent). An absent pose is the all-zero vector (present = 0): a model trained
    with pose dropout runs from actions alone. float64 math, float32 out."""
    p = np.asarray(poses, np.float64)
    e, h = float(pose_cfg["extent"]), float(pose_cfg["height"])
    u, w = p[..., 0] / e, p[..., 2] / e
    cols = [np.ones_like(u), u, p[..., 1] / h, w, np.sin(p[..., 3]), np.cos(p[..., 3]), p[..., 4]]
    for f in pose_cfg.get("frequencies", []):
        cols += [np.sin(np.pi * f * u), np.cos(np.pi * f * u), np.sin(np.pi * f * w), np.cos(np.pi * f * w)]
    return np.stack(cols, axis=-1).astype(np.float32)


# --------------------------------------------------------------------------------------
# small numeric helpers
# --------------------------------------------------------------------------------------

def sinusoidal_embedding(freq_dim, t):
    """[n] timesteps -> [n, freq_dim] float64, [cos | sin] halves, freq_i = 10000^(-i/half)."""
    half = freq_dim // 2
    pos = torch.as_tensor(t).reshape(-1).to(torch.float64)
    freqs = torch.pow(TIME_THETA, -torch.arange(half, dtype=torch.float64) / half)
    ang = torch.outer(pos, freqs)
    return torch.cat([torch.cos(ang), torch.sin(ang)], dim=1)


def rope_axis_dims(head_dim):
    """Real dims of the (t, h, w) RoPE axes: [d - 4(d//6), 2(d//6), 2(d//6)] (=[12,10,10] for d=32)."""
    s = 2 * (head_dim // 6)
    return [head_dim - 2 * s, s, s]


def _rope_angles(positions, axis_dim):
    """positions [n] (int) -> [n, axis_dim/2] float64 angles pos * theta^(-2j/axis_dim)."""
    inv = 1.0 / torch.pow(ROPE_THETA, torch.arange(0, axis_dim, 2, dtype=torch.float64) / axis_dim)
    return torch.outer(torch.as_tensor(positions, dtype=torch.float64), inv)


def rope_table(head_dim, frame_start, f, h, w):
    """complex128 [f*h*w, head_dim/2] rotations for tokens (frame_start+fi, hi, wi), (f,h,w) row-major.

    The time position is the ABSOLUTE latent-frame index. (Upstream precomputes a 1024-row
    table, so upstream positions must stay < 1024; this reference has no such limit.)
    """
    dt, dh, dw = rope_axis_dims(head_dim)
    at = _rope_angles(torch.arange(frame_start, frame_start + f), dt)  # [f, dt/2]
    ah = _rope_angles(torch.arange(h), dh)
    aw = _rope_angles(torch.arange(w), dw)
    ang = torch.cat([
        at[:, None, None, :].expand(f, h, w, -1),
        ah[None, :, None, :].expand(f, h, w, -1),
        aw[None, None, :, :].expand(f, h, w, -1),
    ], dim=-1).reshape(f * h * w, head_dim // 2)
    return torch.polar(torch.ones_like(ang), ang)


def apply_rope(x, table):
    """x [L, n, d]: rotate adjacent pairs (x[2i], x[2i+1]) as complex numbers, in float64."""
    L, n, d = x.shape
    xc = torch.view_as_complex(x.to(torch.float64).reshape(L, n, d // 2, 2).contiguous())
    out = torch.view_as_real(xc * table[:, None, :]).reshape(L, n, d)
    return out.to(x.dtype)


def attention(q, k, v):
    """Plain softmax attention, no mask. q [Lq, n, d], k/v [Lk, n, d] -> [Lq, n, d]."""
    scale = 1.0 / math.sqrt(q.shape[-1])
    logits = torch.einsum("qnd,knd->nqk", q, k) * scale
    p = torch.softmax(logits, dim=-1)
    return torch.einsum("nqk,knd->qnd", p, v)


# --------------------------------------------------------------------------------------
# modules (names follow the checkpoint keys)
# --------------------------------------------------------------------------------------

class RMSNorm(nn.Module):
    """x * rsqrt(mean(x^2) + eps) * weight over the last dim (the full model dim)."""

    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps) * self.weight


def layer_norm(dim, eps, affine):
    return nn.LayerNorm(dim, eps=eps, elementwise_affine=affine)


class SelfAttention(nn.Module):
    def __init__(self, dim, num_heads, qk_norm, eps):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.o = nn.Linear(dim, dim)
        self.norm_q = RMSNorm(dim, eps) if qk_norm else nn.Identity()
        self.norm_k = RMSNorm(dim, eps) if qk_norm else nn.Identity()

    def forward(self, x, rope, past_k, past_v):
        """x [L, dim]; rope table [L, hd/2]; past_k/v [P, n, hd] (already roped) or None.

        Returns (out [L, dim], k_roped [L, n, hd], v [L, n, hd]); the block's own tokens
        attend to past + themselves (bidirectional inside the block)."""
        L = x.shape[0]
        n, d = self.num_heads, self.head_dim
        q = apply_rope(self.norm_q(self.q(x)).view(L, n, d), rope)
        k = apply_rope(self.norm_k(self.k(x)).view(L, n, d), rope)
        v = self.v(x).view(L, n, d)
        if past_k is not None and past_k.shape[0] > 0:
            kk = torch.cat([past_k, k], dim=0)
            vv = torch.cat([past_v, v], dim=0)
        else:
            kk, vv = k, v
        y = attention(q, kk, vv).reshape(L, n * d)
        return self.o(y), k, v


class CrossAttention(nn.Module):
    def __init__(self, dim, num_heads, qk_norm, eps):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.o = nn.Linear(dim, dim)
        self.norm_q = RMSNorm(dim, eps) if qk_norm else nn.Identity()
        self.norm_k = RMSNorm(dim, eps) if qk_norm else nn.Identity()

    def project_context(self, ctx):
        """ctx [text_len, dim] (after text_embedding) -> (k, v) [text_len, n, hd]. Cached per prompt."""
        T = ctx.shape[0]
        k = self.norm_k(self.k(ctx)).view(T, self.num_heads, self.head_dim)
        v = self.v(ctx).view(T, self.num_heads, self.head_dim)
        return k, v

    def forward(self, x, kv):
        L = x.shape[0]
        q = self.norm_q(self.q(x)).view(L, self.num_heads, self.head_dim)
        y = attention(q, kv[0], kv[1]).reshape(L, -1)  # no mask: all text_len rows
        return self.o(y)


class AttentionBlock(nn.Module):
    def __init__(self, dim, ffn_dim, num_heads, qk_norm, cross_attn_norm, eps):
        super().__init__()
        self.norm1 = layer_norm(dim, eps, False)
        self.self_attn = SelfAttention(dim, num_heads, qk_norm, eps)
        self.norm3 = layer_norm(dim, eps, True) if cross_attn_norm else nn.Identity()
        self.cross_attn = CrossAttention(dim, num_heads, qk_norm, eps)
        self.norm2 = layer_norm(dim, eps, False)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_dim), nn.GELU(approximate="tanh"), nn.Linear(ffn_dim, dim))
        self.modulation = nn.Parameter(torch.randn(1, 6, dim) / dim ** 0.5)

    def forward(self, x, e0, num_frames, rope, past_k, past_v, cross_kv):
        """x [L, dim]; e0 [F, 6, dim] (per-frame time projection)."""
        L, dim = x.shape
        fs = L // num_frames
        m = self.modulation + e0  # [F, 6, dim]
        shift1, scale1, gate1, shift2, scale2, gate2 = [m[:, i, None, :] for i in range(6)]  # [F, 1, dim]

        def per_frame(t):
            return t.view(num_frames, fs, dim)

        h = (per_frame(self.norm1(x)) * (1 + scale1) + shift1).reshape(L, dim)
        y, k, v = self.self_attn(h, rope, past_k, past_v)
        x = x + (per_frame(y) * gate1).reshape(L, dim)
        x = x + self.cross_attn(self.norm3(x), cross_kv)
        h = (per_frame(self.norm2(x)) * (1 + scale2) + shift2).reshape(L, dim)
        x = x + (per_frame(self.ffn(h)) * gate2).reshape(L, dim)
        return x, k, v


class Head(nn.Module):
    def __init__(self, dim, out_dim, patch_size, eps):
        super().__init__()
        self.norm = layer_norm(dim, eps, False)
        self.head = nn.Linear(dim, math.prod(patch_size) * out_dim)
        self.modulation = nn.Parameter(torch.randn(1, 2, dim) / dim ** 0.5)

    def forward(self, x, e, num_frames):
        """x [L, dim]; e [F, dim] (the time embedding e, not e0)."""
        L, dim = x.shape
        m = self.modulation + e[:, None, :]  # [F, 2, dim]
        shift, scale = m[:, 0:1, :], m[:, 1:2, :]
        h = self.norm(x).view(num_frames, L // num_frames, dim) * (1 + scale) + shift
        return self.head(h.reshape(L, dim))


# --------------------------------------------------------------------------------------
# per-session state
# --------------------------------------------------------------------------------------

class KVState:
    """Committed self-attention K/V per absolute latent frame (all layers), and the
    cross-attention K/V of the current prompt.

    Selection for a block of F frames starting at absolute frame s (committed frames are
    those < s):  global (local_attn_size L = -1): all of them;  otherwise frames [0, S)
    (the sink) plus the most recent L - S - F committed frames (all of them while that
    covers everything).  K are stored already roped at their absolute positions.
    """

    def __init__(self, num_layers, local_attn_size=-1, sink_size=0):
        self.num_layers = num_layers
        self.local_attn_size = int(local_attn_size)
        self.sink_size = int(sink_size)
        self.k = [dict() for _ in range(num_layers)]  # frame -> [fs, n, hd]
        self.v = [dict() for _ in range(num_layers)]
        self._cross_context = None
        self.cross_kv = None  # per layer (k, v) [text_len, n, hd]
        self.cross_recomputes = 0

    @property
    def committed_frames(self):
        return sorted(self.k[0].keys()) if self.num_layers else []

    def select(self, frame_start, num_frames):
        committed = [f for f in self.committed_frames if f < frame_start]
        L, S = self.local_attn_size, self.sink_size
        if L == -1:
            return committed
        if L - S - num_frames < 1:
            raise ValueError(f"local_attn_size {L} too small for sink {S} + block {num_frames} (+1 frame)")
        sink = [f for f in committed if f < S]
        rest = [f for f in committed if f >= S]
        return sink + rest[len(rest) - min(len(rest), L - S - num_frames):]

    def gather(self, layer, frames):
        if not frames:
            return None, None
        return (torch.cat([self.k[layer][f] for f in frames], dim=0),
                torch.cat([self.v[layer][f] for f in frames], dim=0))

    def commit(self, layer, frame_start, k, v, num_frames):
        fs = k.shape[0] // num_frames
        for i in range(num_frames):
            self.k[layer][frame_start + i] = k[i * fs:(i + 1) * fs].clone()
            self.v[layer][frame_start + i] = v[i * fs:(i + 1) * fs].clone()

    def prune(self, next_frame_start, num_frames):
        """Drop frames no later block (at >= next_frame_start) can select."""
        if self.local_attn_size == -1:
            return
        keep = set(self.select(next_frame_start, num_frames))
        for layer in range(self.num_layers):
            for f in list(self.k[layer]):
                if f < next_frame_start and f not in keep:
                    del self.k[layer][f]
                    del self.v[layer][f]

    def cross_for(self, model, context):
        """Cross-attention K/V for `context` [len, text_dim]; recomputed only when it changes."""
        c = self._cross_context
        if c is None or c.shape != context.shape or not torch.equal(c, context):
            self._cross_context = context.clone()
            self.cross_kv = model.cross_kv(context)
            self.cross_recomputes += 1
        return self.cross_kv


# --------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------

class CausalWanModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        cfg = full_config(config)
        self.config = cfg
        if cfg["model_type"] != "t2v":
            raise NotImplementedError("only model_type 't2v' is supported")
        self.patch_size = list(cfg["patch_size"])
        if self.patch_size[0] != 1:
            raise NotImplementedError("temporal patch size must be 1 (one token frame per latent frame)")
        self.text_len = cfg["text_len"]
        self.in_dim, self.out_dim = cfg["in_dim"], cfg["out_dim"]
        self.dim, self.ffn_dim, self.freq_dim = cfg["dim"], cfg["ffn_dim"], cfg["freq_dim"]
        self.text_dim = cfg["text_dim"]
        self.num_heads, self.num_layers = cfg["num_heads"], cfg["num_layers"]
        assert self.dim % self.num_heads == 0 and (self.dim // self.num_heads) % 2 == 0
        self.head_dim = self.dim // self.num_heads
        eps = cfg["eps"]
        dim = self.dim

        self.patch_embedding = nn.Conv3d(self.in_dim, dim, kernel_size=self.patch_size, stride=self.patch_size)
        self.text_embedding = nn.Sequential(nn.Linear(self.text_dim, dim), nn.GELU(approximate="tanh"),
                                            nn.Linear(dim, dim))
        self.time_embedding = nn.Sequential(nn.Linear(self.freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.time_projection = nn.Sequential(nn.SiLU(), nn.Linear(dim, dim * 6))
        self.blocks = nn.ModuleList([
            AttentionBlock(dim, self.ffn_dim, self.num_heads, cfg["qk_norm"], cfg["cross_attn_norm"], eps)
            for _ in range(self.num_layers)
        ])
        self.head = Head(dim, self.out_dim, self.patch_size, eps)

        act = cfg.get("action")
        self.n_act = 0
        if act:
            if act.get("mode", "additive") != "additive":
                raise NotImplementedError(f"action mode {act.get('mode')!r}")
            self.n_act = action_dim(act)
            self.action_embedding = nn.Sequential(nn.Linear(self.n_act, dim), nn.SiLU(), nn.Linear(dim, dim))
        else:
            self.action_embedding = None

    @property
    def dtype(self):
        return self.patch_embedding.weight.dtype

    def new_kv_state(self, local_attn_size=None, sink_size=None):
        L = self.config["local_attn_size"] if local_attn_size is None else local_attn_size
        S = self.config["sink_size"] if sink_size is None else sink_size
        return KVState(self.num_layers, L, S)

    def embed_text(self, context):
        """[len <= text_len, text_dim] -> [text_len, dim]; rows past len are zero before the MLP."""
        context = torch.as_tensor(context).to(self.dtype)
        if context.shape[0] > self.text_len:
            raise ValueError(f"prompt has {context.shape[0]} rows > text_len {self.text_len}")
        pad = context.new_zeros(self.text_len - context.shape[0], context.shape[1])
        return self.text_embedding(torch.cat([context, pad], dim=0))

    def cross_kv(self, context):
        ctx = self.embed_text(context)
        return [blk.cross_attn.project_context(ctx) for blk in self.blocks]

    def time_embed(self, t, actions):
        """Per-frame e [F, dim] (with the additive action embedding) and e0 [F, 6, dim]."""
        e = self.time_embedding(sinusoidal_embedding(self.freq_dim, t).to(self.dtype))
        if self.action_embedding is not None:
            if actions is None:  # no action given = the all-zero action vector
                actions = torch.zeros(e.shape[0], self.n_act)
            actions = torch.as_tensor(actions).to(self.dtype).reshape(e.shape[0], self.n_act)
            e = e + self.action_embedding(actions)
        elif actions is not None:
            raise ValueError("this model has no action module (config.action is null)")
        e0 = self.time_projection(e).view(-1, 6, self.dim)
        return e, e0

    @torch.no_grad()
    def forward_block(self, x, t, frame_start, context, actions=None, kv=None, commit=False):
        """One forward over a block of latent frames.

        x: [C, F, H, W] latents at absolute frames frame_start .. frame_start+F-1;
        t: [F] timesteps (one per frame; float values, e.g. 937.5);
        context: [len, text_dim] prompt embedding (len <= text_len);
        actions: [F, n_act] or None;  kv: KVState (None = no past, nothing kept);
        commit: store this block's (roped) K/V as the committed frames.
        Returns the flow prediction v = eps - x0, [C_out, F, H, W].
        """
        if kv is None:
            kv = self.new_kv_state()
        x = torch.as_tensor(x).to(self.dtype)
        C, F, H, W = x.shape
        t = torch.as_tensor(t, dtype=torch.float64).reshape(-1)
        if t.numel() == 1:
            t = t.expand(F)
        assert t.numel() == F, "one timestep per latent frame"
        pt, ph, pw = self.patch_size
        G = geometry_channels(self.config.get("action"))
        if G:
            # the action rows end with the geometry map [G, H, W] per frame (absent: zeros),
            # which joins the latents as input channels; the action MLP sees the vector
            geo = torch.zeros(G, F, H, W, dtype=self.dtype)
            if actions is not None:
                rows = torch.as_tensor(actions).to(self.dtype).reshape(F, -1)
                assert rows.shape[1] == self.n_act + G * H * W, "action rows: the vector, then the geometry map"
                geo = rows[:, self.n_act:].reshape(F, G, H, W).permute(1, 0, 2, 3)
                actions = rows[:, :self.n_act]
            x = torch.cat([x, geo], dim=0)
        tok = self.patch_embedding(x.unsqueeze(0))[0]  # [dim, f, h, w]
        f, h, w = tok.shape[1:]
        tok = tok.flatten(1).transpose(0, 1)  # [L, dim], (f, h, w) row-major
        e, e0 = self.time_embed(t, actions)
        cross = kv.cross_for(self, torch.as_tensor(context).to(self.dtype))
        frames = kv.select(frame_start, F)
        rope = rope_table(self.head_dim, frame_start, f, h, w)
        new_kv = []
        for i, blk in enumerate(self.blocks):
            pk, pv = kv.gather(i, frames)
            tok, k, v = blk(tok, e0, F, rope, pk, pv, cross[i])
            new_kv.append((k, v))
        if commit:
            for i, (k, v) in enumerate(new_kv):
                kv.commit(i, frame_start, k, v, F)
        out = self.head(tok, e, F)  # [L, pt*ph*pw*c]
        c = self.out_dim
        out = out.view(f, h, w, pt, ph, pw, c).permute(6, 0, 3, 1, 4, 2, 5)
        return out.reshape(c, f * pt, h * ph, w * pw)


# --------------------------------------------------------------------------------------
# flow-matching schedule and the block loop
# --------------------------------------------------------------------------------------

class FlowMatchSchedule:
    """Shifted flow-matching table, as upstream FlowMatchScheduler(shift, sigma_min=0,
    extra_one_step=True).set_timesteps(1000): computed in float32 exactly like upstream
    (torch.linspace float32, then shift*s/(1+(shift-1)*s), then *1000), so the step
    timesteps/sigmas are the very float32 numbers upstream uses.

    steps:        the denoising timesteps t_i (python floats holding float32 values);
                  with warp: cat(timesteps, [0])[N - step], e.g. [1000, 937.5, 833.333313, 625];
    step_sigmas:  sigma(t_i) = sigmas[argmin |timesteps - t_i|] (upstream's nearest lookup).
    """

    def __init__(self, shift=5.0, num_train_timesteps=1000, denoising_step_list=(1000, 750, 500, 250),
                 warp_denoising_step=True):
        n = int(num_train_timesteps)
        s = torch.linspace(1.0, 0.0, n + 1, dtype=torch.float32)[:-1]
        self.sigmas = shift * s / (1 + (shift - 1) * s)
        self.timesteps = self.sigmas * n
        if warp_denoising_step:
            table = torch.cat([self.timesteps, torch.zeros(1, dtype=torch.float32)])
            self.steps = [float(table[n - int(k)]) for k in denoising_step_list]
        else:
            self.steps = [float(k) for k in denoising_step_list]
        self.step_sigmas = [self.sigma(tv) for tv in self.steps]

    @classmethod
    def from_config(cls, cfg):
        cfg = full_config(cfg)
        return cls(cfg["timestep_shift"], cfg["num_train_timesteps"], cfg["denoising_step_list"],
                   cfg["warp_denoising_step"])

    def index(self, t):
        d = (self.timesteps - torch.tensor(float(t), dtype=torch.float32)).abs()
        return int(torch.argmin(d))

    def sigma(self, t):
        return float(self.sigmas[self.index(t)])


class Rollout:
    """Self Forcing's block loop (pipeline/causal_inference.py) over one session.

    run_block: for each step i: v = model(x, t_i per frame); x0 = x - sigma_i * v;
    if not last: x = (1 - sigma_{i+1}) * x0 + sigma_{i+1} * noise[i+1].  Then one commit
    forward on x0 at t = context_noise for every frame (output discarded; no noise is
    added to x0 for it, even when context_noise > 0 - as upstream).

    A block's size is its noise's (frames 1..num_frame_per_block; the engine's
    `minBlockFrames` session): each block of F frames selects the window's
    local_attn_size - sink - F frames before it, and the cache keeps what a block of
    `min_frames` (default num_frame_per_block) could still select.
    """

    def __init__(self, model, schedule=None, config=None, min_frames=None):
        cfg = full_config(dict(model.config, **(config or {})))
        self.model = model
        self.cfg = cfg
        self.schedule = schedule or FlowMatchSchedule.from_config(cfg)
        self.F = int(cfg["num_frame_per_block"])
        self.min_F = int(min_frames or self.F)
        assert 1 <= self.min_F <= self.F
        self.kv = model.new_kv_state(cfg["local_attn_size"], cfg["sink_size"])
        self.frame = 0

    def _t(self, value, F=None):
        return torch.full((F or self.F,), float(value), dtype=torch.float64)

    @torch.no_grad()
    def probe(self, x, t, context, actions=None):
        """Side-effect-free forward at the next block's position with the current KV state."""
        return self.model.forward_block(x, t, self.frame, context, actions, self.kv, commit=False)

    @torch.no_grad()
    def run_block(self, noise, context, actions=None, trace=None):
        """noise: list (len = number of steps) of [C, F, H, W]; item 0 starts the block,
        item i re-noises x0 to step i.  Returns x0 [C, F, H, W].  `trace` (a list) receives
        one dict {x, t, v} per denoise forward."""
        steps, sig = self.schedule.steps, self.schedule.step_sigmas
        assert len(noise) >= len(steps)
        dt = self.model.dtype
        x = torch.as_tensor(noise[0]).to(dt)
        F = x.shape[1]
        assert self.min_F <= F <= self.F, f"a block of {F} frames; this rollout takes {self.min_F}..{self.F}"
        x0 = None
        for i, tv in enumerate(steps):
            t = self._t(tv, F)
            v = self.model.forward_block(x, t, self.frame, context, actions, self.kv, commit=False)
            if trace is not None:
                trace.append({"x": x.clone(), "t": t.clone(), "v": v.clone()})
            x0 = x - sig[i] * v
            if i + 1 < len(steps):
                x = (1 - sig[i + 1]) * x0 + sig[i + 1] * torch.as_tensor(noise[i + 1]).to(dt)
        self.model.forward_block(x0, self._t(self.cfg["context_noise"], F), self.frame, context, actions,
                                 self.kv, commit=True)
        self.frame += F
        self.kv.prune(self.frame, self.min_F)
        return x0


# --------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------

def load_model(model_dir, dtype=torch.float64, weights="model.safetensors"):
    """Build the reference from a worldcast model directory (config.json + model.safetensors)."""
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    model = CausalWanModel(cfg)
    sd = safetensors_io.load_file(os.path.join(model_dir, weights))
    sd = {k: v.to(torch.float32) for k, v in sd.items()}
    model.load_state_dict(sd, strict=True)
    return model.to(dtype).eval()
