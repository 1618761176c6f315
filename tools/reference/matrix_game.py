"""PyTorch (CPU) reference of Matrix-Game 2.0's causal Wan model: image-to-video input,
CLIP-token context and the keyboard/mouse action module, run block by block with KV caches.

Written from the semantics of upstream SkyworkAI/Matrix-Game, folder Matrix-Game-2 (read,
not copied; file + function named at each point):
  wan/modules/causal_model.py  CausalWanModel._forward_inference, CausalWanAttentionBlock.forward
  wan/modules/action_module.py ActionModule.forward, ActionModule.get_rotary_pos_embed
  wan/modules/posemb_layers.py get_nd_rotary_pos_embed, apply_rotary_emb
  wan/modules/model.py         MLPProj, WanI2VCrossAttention
  pipeline/causal_inference.py CausalInferencePipeline.inference, cond_current,
                               _initialize_kv_cache_mouse_and_keyboard
  inference.py                 InteractiveGameInference.generate_videos (cond_concat layout)
It reuses wan_causal.py's pieces (time embedding, RoPE, self/cross attention, head, the
flow-matching schedule), which are checked against upstream Self Forcing.

Semantics, in order of the block (CausalWanAttentionBlock.forward):
  self-attention (as Self Forcing) -> x += cross_attn(norm3(x), context)
  -> x = action_model(x) in the blocks listed in action_config.blocks -> FFN.
The context is img_emb(clip tokens): LayerNorm(eps 1e-5) -> Linear -> GELU (erf) -> Linear
-> LayerNorm(eps 1e-5) (model.py MLPProj); cross-attention has no separate image K/V.
The input is cat([x (out_dim ch), mask (mask ch), image latent (image ch)]) over channels
(inference.py: cond_concat = cat([mask_cond[:, :4], img_cond]); causal_model.py
_forward_inference: x = cat([x, cond_concat], dim=1)); the mask is 1 on latent frame 0
and 0 elsewhere (mask_cond[:, :, 1:] = 0).

Action module (action_module.py ActionModule.forward, is_causal with KV caches):
  window: the actions are given per VIDEO frame (vae_time_compression_ratio r = 4 video
    frames per latent frame; the block starting at latent s gets video frames
    [0, 1 + r(s + F - 1)), cond_current). Latent frame f reads video frames
    [r·f − r·ws, r·f), frames < 0 replaced by video frame 0 (the condition is left-padded
    with r·ws copies of its frame 0). See action_windows().
  mouse (per spatial token, temporal self-attention over latent frames):
    h = mouse_mlp(cat([x_token, window_mouse.flatten()]))      Linear, GELU(tanh), Linear, LayerNorm(1e-5)
    q, k, v = t_qkv(h) split as (3, heads, hd); q, k RMS-normalised over hd WITHOUT the
    norm's weight (action_module.py's WanRMSNorm.forward never multiplies by it), eps 1e-6;
    RoPE on the time axis only (positions = absolute latent frame; get_rotary_pos_embed
    builds a (T, 1, 1) grid, so the h/w parts rotate by angle 0), theta = rope_theta,
    dims split mouse_qk_dim_list, adjacent pairs (rotate_half); attention of each token's
    block frames over the same token's K/V in the window; x += proj_mouse(out).
  keyboard (cross-attention to one keyboard token per latent frame):
    token_f = keyboard_attn_kv(cat_j keyboard_embed(window_kb[j]))  (embed: Linear, SiLU, Linear)
    q = mouse_attn_q(x) (x after the mouse branch), q/k RMS-normalised (no weight), the same
    time-only RoPE for q (its frame) and k (its frame); every token attends to the keyboard
    tokens of the window; x += proj_keyboard(out).
  caches: each action block keeps mouse K/V [tokens, frames] and keyboard K/V [frames] of
    committed frames (pipeline _initialize_kv_cache_mouse_and_keyboard: local_attn_size
    frames, no sink); a block attends to the last local_attn_size frames ending at its own
    end (its own frames + earlier committed ones), bidirectionally inside the block; the
    denoising passes overwrite the block's slots and the commit pass at t = context_noise
    leaves the clean ones - the same scratch/commit rule as the self-attention cache.
    local_attn_size = -1 (upstream's foundation config, never run causally upstream) is
    taken here as a global window.
"""

import math
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import wan_causal as W  # noqa: E402

# upstream ActionModule constructor defaults (action_module.py ActionModule.__init__)
ACTION_DEFAULTS = {
    "mouse_dim_in": 2,
    "keyboard_dim_in": 6,
    "hidden_size": 128,
    "img_hidden_size": 1536,
    "keyboard_hidden_dim": 1024,
    "mouse_hidden_dim": 1024,
    "vae_time_compression_ratio": 4,
    "windows_size": 3,
    "heads_num": 16,
    "patch_size": [1, 2, 2],
    "qk_norm": True,
    "qkv_bias": False,
    "rope_dim_list": [8, 28, 28],
    "rope_theta": 256,
    "mouse_qk_dim_list": [8, 28, 28],
    "enable_mouse": True,
    "enable_keyboard": True,
    "blocks": [],
}
CLIP_DIM = 1280  # model.py MLPProj(1280, dim) in causal_model.py CausalWanModel.__init__
LN_EPS_TORCH = 1e-5  # nn.LayerNorm default (MLPProj, mouse_mlp)


def full_action_config(ac):
    out = dict(ACTION_DEFAULTS)
    out.update(ac or {})
    return out


def action_windows(video_actions, frame_start, num_frames, ratio, windows_size):
    """[F, r·ws, A]: for latent frame f = frame_start + i, video frames r·f − r·ws .. r·f − 1
    of `video_actions` [N, A] (video frames 0..N−1), index < 0 -> frame 0."""
    pad_t = ratio * windows_size
    rows = []
    for f in range(frame_start, frame_start + num_frames):
        idx = [max(j, 0) for j in range(ratio * f - pad_t, ratio * f)]
        rows.append(video_actions[idx])
    return torch.stack(rows)


def upstream_style_windows(cond, n_feats, num_frame_per_block, ratio, windows_size, cached):
    """A literal transcription of ActionModule.forward's padding and slicing (both the
    cached, per-block path and the whole-video path), used to check action_windows()."""
    pad_t = ratio * windows_size
    cond = torch.cat([cond[0:1].expand(pad_t, -1), cond], dim=0)
    if cached:
        cond = cond[ratio * (n_feats - num_frame_per_block - windows_size) + pad_t:]
        rng = range(num_frame_per_block)
    else:
        rng = range(n_feats)
    return torch.stack([cond[ratio * (i - windows_size) + pad_t:i * ratio + pad_t] for i in rng])


def rms_noweight(x, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps)


def time_rope(x, positions, dims, theta):
    """x [..., P, n, hd] with P positions along dim -3; rotate adjacent pairs of the first
    dims[0] channels by pos·theta^(-2j/dims[0]) (the h, w parts have position 0)."""
    dt = dims[0]
    inv = 1.0 / torch.pow(torch.tensor(float(theta), dtype=torch.float64),
                          torch.arange(0, dt, 2, dtype=torch.float64) / dt)
    ang = torch.outer(torch.as_tensor(positions, dtype=torch.float64), inv)  # [P, dt/2]
    rot = torch.polar(torch.ones_like(ang), ang)[:, None, :]  # [P, 1, dt/2]
    head = x[..., :dt].to(torch.float64)
    shp = head.shape
    hc = torch.view_as_complex(head.reshape(*shp[:-1], dt // 2, 2).contiguous())
    out = torch.view_as_real(hc * rot).reshape(shp).to(x.dtype)
    return torch.cat([out, x[..., dt:]], dim=-1)


class _NormWeight(nn.Module):
    """A WanRMSNorm of action_module.py: it has a weight (so it is in the checkpoint) that
    its forward never uses."""

    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))


class ActionModule(nn.Module):
    def __init__(self, ac):
        super().__init__()
        self.ac = ac
        self.heads = ac["heads_num"]
        r, ws = ac["vae_time_compression_ratio"], ac["windows_size"]
        self.pad_t = r * ws
        bias = ac["qkv_bias"]
        D = ac["img_hidden_size"]
        if ac["enable_keyboard"]:
            hs = ac["hidden_size"]
            self.keyboard_embed = nn.Sequential(nn.Linear(ac["keyboard_dim_in"], hs), nn.SiLU(), nn.Linear(hs, hs))
        if ac["enable_mouse"]:
            c = ac["mouse_hidden_dim"]
            self.mouse_mlp = nn.Sequential(nn.Linear(ac["mouse_dim_in"] * self.pad_t + D, c),
                                           nn.GELU(approximate="tanh"), nn.Linear(c, c), nn.LayerNorm(c))
            self.t_qkv = nn.Linear(c, 3 * c, bias=bias)
            if ac["qk_norm"]:
                self.img_attn_q_norm = _NormWeight(c // self.heads)
                self.img_attn_k_norm = _NormWeight(c // self.heads)
            self.proj_mouse = nn.Linear(c, D, bias=bias)
        if ac["enable_keyboard"]:
            kh = ac["keyboard_hidden_dim"]
            if ac["qk_norm"]:
                self.key_attn_q_norm = _NormWeight(kh // self.heads)
                self.key_attn_k_norm = _NormWeight(kh // self.heads)
            self.mouse_attn_q = nn.Linear(D, kh, bias=bias)
            self.keyboard_attn_kv = nn.Linear(ac["hidden_size"] * self.pad_t, 2 * kh, bias=bias)
            self.proj_keyboard = nn.Linear(kh, D, bias=bias)

    def _norm(self, x):
        return rms_noweight(x) if self.ac["qk_norm"] else x

    def forward(self, x, F, S, frame_start, win, past):
        """x [F·S, D]; win [F, r·ws, kb + mouse] (keyboard first); past: dict with lists of
        committed K/V per window frame (mk/mv [S, n, hd], kk/kv [1, n, hd]).
        Returns (x, new) with new = this block's roped K and V for the caches."""
        ac, n = self.ac, self.heads
        nkb = ac["keyboard_dim_in"] if ac["enable_keyboard"] else 0
        pos = list(range(frame_start, frame_start + F))
        dims, theta = ac["mouse_qk_dim_list"], ac["rope_theta"]
        new = {}
        D = x.shape[1]
        if ac["enable_mouse"]:
            c = ac["mouse_hidden_dim"]
            hd = c // n
            mw = win[:, :, nkb:nkb + ac["mouse_dim_in"]].reshape(F, 1, -1).expand(F, S, -1)
            h = self.mouse_mlp(torch.cat([x.view(F, S, D), mw.to(x.dtype)], dim=-1))
            qkv = self.t_qkv(h).view(F, S, 3, n, hd)
            q, k, v = self._norm(qkv[:, :, 0]), self._norm(qkv[:, :, 1]), qkv[:, :, 2]
            # [F, S, n, hd] -> positions along dim 0: move to [S, F, n, hd] for time_rope
            q = time_rope(q.transpose(0, 1), pos, dims, theta).transpose(0, 1)
            k = time_rope(k.transpose(0, 1), pos, dims, theta).transpose(0, 1)
            K = torch.stack(past["mk"] + [k[i] for i in range(F)])  # [P+F, S, n, hd]
            V = torch.stack(past["mv"] + [v[i] for i in range(F)])
            logits = torch.einsum("fsnd,psnd->snfp", q, K) / math.sqrt(hd)
            out = torch.einsum("snfp,psnd->fsnd", torch.softmax(logits, dim=-1), V)
            x = x + self.proj_mouse(out.reshape(F * S, c))
            new["mk"], new["mv"] = k, v
        if ac["enable_keyboard"]:
            kh = ac["keyboard_hidden_dim"]
            hd = kh // n
            kb = self.keyboard_embed(win[:, :, :nkb].to(x.dtype)).reshape(F, -1)
            kv = self.keyboard_attn_kv(kb).view(F, 2, n, hd)
            k, v = self._norm(kv[:, 0]), kv[:, 1]
            k = time_rope(k, pos, dims, theta)  # [F, n, hd]
            q = self._norm(self.mouse_attn_q(x).view(F, S, n, hd))
            q = time_rope(q.transpose(0, 1), pos, dims, theta).transpose(0, 1).reshape(F * S, n, hd)
            K = torch.cat(past["kk"] + [k], dim=0)
            V = torch.cat(past["kv"] + [v], dim=0)
            x = x + self.proj_keyboard(W.attention(q, K, V).reshape(F * S, kh))
            new["kk"], new["kv"] = k, v
        return x, new


class MGBlock(W.AttentionBlock):
    def __init__(self, cfg, ac, with_action):
        super().__init__(cfg["dim"], cfg["ffn_dim"], cfg["num_heads"], cfg["qk_norm"], cfg["cross_attn_norm"],
                         cfg["eps"])
        self.action_model = ActionModule(ac) if with_action else None

    def forward_mg(self, x, e0, F, rope, past_k, past_v, cross_kv, frame_start, win, apast):
        L, dim = x.shape
        S = L // F
        m = self.modulation + e0
        sh1, sc1, g1, sh2, sc2, g2 = [m[:, i, None, :] for i in range(6)]
        h = (self.norm1(x).view(F, S, dim) * (1 + sc1) + sh1).reshape(L, dim)
        y, k, v = self.self_attn(h, rope, past_k, past_v)
        x = x + (y.view(F, S, dim) * g1).reshape(L, dim)
        x = x + self.cross_attn(self.norm3(x), cross_kv)
        anew = None
        if self.action_model is not None:
            x, anew = self.action_model(x, F, S, frame_start, win, apast)
        h = (self.norm2(x).view(F, S, dim) * (1 + sc2) + sh2).reshape(L, dim)
        x = x + (self.ffn(h).view(F, S, dim) * g2).reshape(L, dim)
        return x, k, v, anew


class ActionKV:
    """Committed action K/V per action block and absolute frame; window of the last L frames
    ending at the block's end (L = -1: all)."""

    def __init__(self, local_attn_size):
        self.L = local_attn_size
        self.store = {}  # (layer, frame) -> dict

    def past(self, layer, frame_start, F):
        lo = 0 if self.L == -1 else frame_start + F - self.L
        frames = sorted(f for (l, f) in self.store if l == layer and lo <= f < frame_start)
        out = {"mk": [], "mv": [], "kk": [], "kv": []}
        for f in frames:
            for key, val in self.store[(layer, f)].items():
                out[key].append(val)
        return out

    def commit(self, layer, frame_start, F, new):
        for i in range(F):
            d = {}
            for key, val in new.items():
                d[key] = val[i].clone() if key.startswith("m") else val[i:i + 1].clone()
            self.store[(layer, frame_start + i)] = d

    def prune(self, next_start, F):
        if self.L == -1:
            return
        lo = next_start + F - self.L
        for key in [k for k in self.store if k[1] < lo]:
            del self.store[key]


class MatrixGameModel(nn.Module):
    """Upstream CausalWanModel of Matrix-Game-2 (model_type 'i2v'), names = its state_dict."""

    def __init__(self, config):
        super().__init__()
        cfg = W.full_config(config)
        self.config = cfg
        assert cfg["model_type"] == "i2v"
        self.ac = full_action_config(cfg.get("action_config"))
        ic = cfg["image_latent"]
        self.mask_ch, self.img_ch = ic["mask_channels"], ic["channels"]
        assert cfg["in_dim"] == cfg["out_dim"] + self.mask_ch + self.img_ch
        self.patch_size = list(cfg["patch_size"])
        dim, eps = cfg["dim"], cfg["eps"]
        self.dim, self.out_dim, self.freq_dim = dim, cfg["out_dim"], cfg["freq_dim"]
        self.num_heads = cfg["num_heads"]
        self.head_dim = dim // self.num_heads
        self.clip_dim = cfg.get("clip_dim", CLIP_DIM)
        self.patch_embedding = nn.Conv3d(cfg["in_dim"], dim, kernel_size=self.patch_size, stride=self.patch_size)
        self.time_embedding = nn.Sequential(nn.Linear(self.freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.time_projection = nn.Sequential(nn.SiLU(), nn.Linear(dim, dim * 6))
        blocks = set(self.ac["blocks"])
        self.blocks = nn.ModuleList([MGBlock(cfg, self.ac, i in blocks) for i in range(cfg["num_layers"])])
        self.head = W.Head(dim, self.out_dim, self.patch_size, eps)
        self.img_emb = nn.Module()
        self.img_emb.proj = nn.Sequential(nn.LayerNorm(self.clip_dim), nn.Linear(self.clip_dim, self.clip_dim),
                                          nn.GELU(), nn.Linear(self.clip_dim, dim), nn.LayerNorm(dim))

    @property
    def dtype(self):
        return self.patch_embedding.weight.dtype

    def cross_kv(self, clip_tokens):
        ctx = self.img_emb.proj(torch.as_tensor(clip_tokens).to(self.dtype))
        return [blk.cross_attn.project_context(ctx) for blk in self.blocks]

    def cond(self, image_latent, frame_start, F):
        """[mask ch + image ch, F, H, W]: mask 1 on latent frame 0; image latent frame
        min(f, N-1) of the supplied [C, N, H, W]."""
        C, N, H, Wd = image_latent.shape
        out = []
        for f in range(frame_start, frame_start + F):
            m = torch.full((self.mask_ch, H, Wd), 1.0 if f == 0 else 0.0, dtype=self.dtype)
            out.append(torch.cat([m, image_latent[:, min(f, N - 1)].to(self.dtype)], dim=0))
        return torch.stack(out, dim=1)

    @torch.no_grad()
    def forward_block(self, x, t, frame_start, cross, cond, win, kv, akv, commit=False):
        x = torch.as_tensor(x).to(self.dtype)
        C, F, H, Wd = x.shape
        t = torch.as_tensor(t, dtype=torch.float64).reshape(-1)
        tok = self.patch_embedding(torch.cat([x, cond], dim=0).unsqueeze(0))[0]
        f, h, w = tok.shape[1:]
        tok = tok.flatten(1).transpose(0, 1)
        e = self.time_embedding(W.sinusoidal_embedding(self.freq_dim, t).to(self.dtype))
        e0 = self.time_projection(e).view(-1, 6, self.dim)
        frames = kv.select(frame_start, F)
        rope = W.rope_table(self.head_dim, frame_start, f, h, w)
        new_kv, new_act = [], []
        for i, blk in enumerate(self.blocks):
            pk, pv = kv.gather(i, frames)
            apast = akv.past(i, frame_start, F) if blk.action_model is not None else None
            tok, k, v, anew = blk.forward_mg(tok, e0, F, rope, pk, pv, cross[i], frame_start, win, apast)
            new_kv.append((k, v))
            new_act.append(anew)
        if commit:
            for i, (k, v) in enumerate(new_kv):
                kv.commit(i, frame_start, k, v, F)
                if new_act[i] is not None:
                    akv.commit(i, frame_start, F, new_act[i])
        out = self.head(tok, e, F)
        c = self.out_dim
        pt, ph, pw = self.patch_size
        out = out.view(f, h, w, pt, ph, pw, c).permute(6, 0, 3, 1, 4, 2, 5)
        return out.reshape(c, f * pt, h * ph, w * pw)


class MGRollout:
    """CausalInferencePipeline.inference for one session: video-frame action history,
    image latent, CLIP context; per block: denoising steps, then the commit pass."""

    def __init__(self, model, image_latent, clip_tokens):
        cfg = model.config
        self.model = model
        self.schedule = W.FlowMatchSchedule.from_config(cfg)
        self.F = int(cfg["num_frame_per_block"])
        self.kv = W.KVState(len(model.blocks), cfg["local_attn_size"], cfg["sink_size"])
        la = cfg.get("action_local_attn_size", cfg["local_attn_size"])
        self.akv = ActionKV(la)
        self.image_latent = torch.as_tensor(image_latent)
        self.cross = model.cross_kv(clip_tokens)
        self.history = None  # [video frames so far, A]
        self.frame = 0
        self.r = model.ac["vae_time_compression_ratio"]
        self.ws = model.ac["windows_size"]

    def video_frames(self, frame_start=None):
        s = self.frame if frame_start is None else frame_start
        return 1 + self.r * (self.F - 1) if s == 0 else self.r * self.F

    def _win(self, actions):
        acts = torch.as_tensor(actions, dtype=torch.float64)
        assert acts.shape[0] == self.video_frames()
        hist = acts if self.history is None else torch.cat([self.history, acts], dim=0)
        return hist, action_windows(hist, self.frame, self.F, self.r, self.ws)

    def _t(self, v):
        return torch.full((self.F,), float(v), dtype=torch.float64)

    def probe(self, x, t, actions):
        _, win = self._win(actions)
        cond = self.model.cond(self.image_latent, self.frame, self.F)
        return self.model.forward_block(x, t, self.frame, self.cross, cond, win, self.kv, self.akv, False)

    def run_block(self, noise, actions, trace=None):
        hist, win = self._win(actions)
        cond = self.model.cond(self.image_latent, self.frame, self.F)
        steps, sig = self.schedule.steps, self.schedule.step_sigmas
        x = torch.as_tensor(noise[0]).to(self.model.dtype)
        for i, tv in enumerate(steps):
            t = self._t(tv)
            v = self.model.forward_block(x, t, self.frame, self.cross, cond, win, self.kv, self.akv, False)
            if trace is not None:
                trace.append({"x": x.clone(), "t": t.clone(), "v": v.clone()})
            x0 = x - sig[i] * v
            if i + 1 < len(steps):
                x = (1 - sig[i + 1]) * x0 + sig[i + 1] * torch.as_tensor(noise[i + 1]).to(x0.dtype)
        self.model.forward_block(x0, self._t(self.model.config["context_noise"]), self.frame, self.cross, cond, win,
                                 self.kv, self.akv, True)
        self.history = hist
        self.frame += self.F
        self.kv.prune(self.frame, self.F)
        self.akv.prune(self.frame, self.F)
        return x0


def load_model(model_dir, dtype=torch.float64):
    import json
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    model = MatrixGameModel(cfg)
    sd = safetensors_io.load_file(os.path.join(model_dir, "model.safetensors"))
    model.load_state_dict({k: v.to(torch.float32) for k, v in sd.items()}, strict=True)
    return model.to(dtype).eval()
