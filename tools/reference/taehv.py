"""Reference TAEHV video decoder (PyTorch, CPU): the executable semantics of
native/model/taehv.{h,cpp}.  Written from the behaviour of madebyollin/taehv's decoder
(checked against it by check_taehv_upstream.py); parameter names are upstream's
`TAEHV.state_dict()` keys restricted to `decoder.*`.

The decoder is a list of layers applied to one latent frame at a time; each entry's
index in `TaehvDecoder.decoder` is its index in upstream's `nn.Sequential`:

    0  clamp            x -> 3 tanh(x / 3)                       (latents, C = latent_channels)
    1  conv3x3 + bias   latent_channels -> n_f[0]
    2  relu
    3..5   MemBlock(n_f[0])      see below
    6  upsample  nearest x2 in H and W when decoder_space_upscale[0], else identity
    7  TGrow(n_f[0])   1x1 conv (no bias) n_f[0] -> n_f[0]*s, s = 2 if decoder_time_upscale[0]
                       else 1; output channels [j*C, (j+1)*C) are the j-th new frame, in order
    8  conv3x3 no bias n_f[0] -> n_f[1]
    9..11, 12, 13, 14  the same with n_f[1] / index 1 of the switches / conv to n_f[2]
    15..17, 18, 19, 20 the same with n_f[2] / index 2 of the switches / conv to n_f[3]
    21 relu
    22 conv3x3 + bias  n_f[3] -> image_channels * patch_size**2
    then pixel_shuffle(patch_size) when patch_size > 1, then clamp to [0, 1].

Geometry (a worldcast extension; config key "geometry": {"channels": G, "scale": s,
"samples": k, "near": n}): the decoder also takes, per output frame, a map of the view's
geometry — G channels at (frame height / s, frame width / s), as the world's
renderGeometry draws it (k x k rays a map pixel, nearness exp(-d / n)) — and each plain
conv (indices 1, 8, 14, 20, 22: the ones outside the MemBlocks) reads it as G more input
channels after its own, `conv(cat[x, resize(map)])`: the map average-pooled to the conv's
input size where that is smaller, repeated (nearest) where larger. Needs a decoder
without time upscaling (one output frame per latent frame).

MemBlock(n): `relu(conv.4(relu(conv.2(relu(conv.0(cat[x, past]))))) + x)` where all three
convs are 3x3 with bias (conv.0: 2n -> n) and `past` is the block's *input* at the
previous frame of the same time resolution (zeros before the stream's first frame).

Streaming: a stream keeps, per MemBlock, the input it saw last, and counts the frames it
has produced.  Frames are processed depth first in time order, so feeding latents block
by block gives exactly the frames of decoding the whole video at once.  The first
`frames_to_trim = t_upscale - 1` output frames of a stream are dropped (upstream trims
them to align with the reference VAE: T latents -> t_upscale*(T-1)+1 frames).
Output: float frames in [0, 1], (C, H, W); as bytes: round(255 * x) half-to-even.
"""

import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

import safetensors_io

DEFAULT_CONFIG = {
    "type": "taehv",
    "latent_channels": 16,
    "image_channels": 3,
    "patch_size": 1,
    "n_f": [256, 128, 64, 64],
    "decoder_time_upscale": [False, True, True],
    "decoder_space_upscale": [True, True, True],
    "trim_first_frames": True,
}


def normalize_config(cfg=None):
    """Fill defaults; a 2-entry decoder_time_upscale gets a leading False (as upstream)."""
    c = dict(DEFAULT_CONFIG)
    for k, v in (cfg or {}).items():
        if k == "arch_variant":
            if v not in (None, "base"):
                raise ValueError(f"arch_variant {v!r} is not supported (only the base decoder)")
            continue
        c[k] = v
    tu = [bool(b) for b in c["decoder_time_upscale"]]
    if len(tu) == 2:
        tu = [False] + tu
    c["decoder_time_upscale"] = tu
    c["decoder_space_upscale"] = [bool(b) for b in c["decoder_space_upscale"]]
    c["n_f"] = [int(n) for n in c["n_f"]]
    if c.get("type", "taehv") != "taehv":
        raise ValueError(f"decoder type {c['type']!r} is not 'taehv'")
    if len(c["n_f"]) != 4 or len(tu) != 3 or len(c["decoder_space_upscale"]) != 3:
        raise ValueError("n_f needs 4 entries, decoder_time_upscale 2 or 3, decoder_space_upscale 3")
    g = c.get("geometry")
    if g is not None:
        g = {"channels": int(g["channels"]), "scale": int(g.get("scale", 1)), "samples": int(g.get("samples", 1)),
             "near": float(g.get("near", 8.0))}
        if g["channels"] < 1 or g["scale"] < 1 or g["samples"] < 1 or not g["near"] > 0:
            raise ValueError(f"bad decoder geometry {g}")
        if any(tu):
            raise ValueError("a decoder that takes geometry has no time upscaling")
        c["geometry"] = g
    return c


def geometry_channels(cfg):
    g = cfg.get("geometry")
    return g["channels"] if g else 0


GEOMETRY_CONVS = (1, 8, 14, 20, 22)


def resize_map(g, h, w):
    """A geometry map [N, G, Hm, Wm] at a conv's input size (h, w): average-pooled by Hm / h
    where smaller, repeated (nearest) h / Hm times where larger; the ratios must be integers."""
    hm, wm = g.shape[-2:]
    if (hm, wm) == (h, w):
        return g
    if hm >= h and wm >= w and hm % h == 0 and wm % w == 0 and hm // h == wm // w:
        return F.avg_pool2d(g, hm // h)
    if h >= hm and w >= wm and h % hm == 0 and w % wm == 0 and h // hm == w // wm:
        r = h // hm
        return g.repeat_interleave(r, dim=-2).repeat_interleave(r, dim=-1)
    raise ValueError(f"a {hm}x{wm} geometry map does not resize to {h}x{w} by an integer factor")


def t_upscale(cfg):
    return 2 ** sum(cfg["decoder_time_upscale"])


def frames_to_trim(cfg):
    return t_upscale(cfg) - 1 if cfg["trim_first_frames"] else 0


class Clamp(nn.Module):
    def forward(self, x):
        return 3.0 * torch.tanh(x / 3.0)


class Nearest2x(nn.Module):
    """Nearest-neighbour upsampling by 2 in H and W (identity when disabled)."""

    def __init__(self, enabled):
        super().__init__()
        self.enabled = enabled

    def forward(self, x):
        if not self.enabled:
            return x
        return x.repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)


class MemBlock(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(2 * n, n, 3, padding=1), nn.ReLU(),
            nn.Conv2d(n, n, 3, padding=1), nn.ReLU(),
            nn.Conv2d(n, n, 3, padding=1))

    def forward(self, x, past):
        return torch.relu(self.conv(torch.cat([x, past], dim=-3)) + x)


class TGrow(nn.Module):
    def __init__(self, n, stride):
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv2d(n, n * stride, 1, bias=False)

    def forward(self, x):
        """x: [N, C, H, W] (N frames) -> [N * stride, C, H, W], frame-major."""
        n, c, h, w = x.shape
        return self.conv(x).reshape(n * self.stride, c, h, w)


class TaehvDecoder(nn.Module):
    def __init__(self, cfg=None):
        super().__init__()
        self.cfg = c = normalize_config(cfg)
        nf, tu, su = c["n_f"], c["decoder_time_upscale"], c["decoder_space_upscale"]
        G = geometry_channels(c)
        layers = [Clamp(), nn.Conv2d(c["latent_channels"] + G, nf[0], 3, padding=1), nn.ReLU()]
        for s in range(3):
            layers += [MemBlock(nf[s]), MemBlock(nf[s]), MemBlock(nf[s]),
                       Nearest2x(su[s]), TGrow(nf[s], 2 if tu[s] else 1),
                       nn.Conv2d(nf[s] + G, nf[s + 1], 3, padding=1, bias=False)]
        layers += [nn.ReLU(), nn.Conv2d(nf[3] + G, c["image_channels"] * c["patch_size"] ** 2, 3, padding=1)]
        self.decoder = nn.Sequential(*layers)
        assert len(self.decoder) == 23

    # ---- output mapping --------------------------------------------------------------
    def finish(self, x):
        """Last conv's output [N, C*p*p, H, W] -> frames [N, C, H*p, W*p] in [0, 1]."""
        p = self.cfg["patch_size"]
        if p > 1:
            x = F.pixel_shuffle(x, p)
        return x.clamp(0, 1)

    # ---- streaming (depth first, one frame at a time) --------------------------------
    def new_stream(self):
        return {"memory": [None] * len(self.decoder), "produced": 0}

    def _layer(self, i, x, g):
        """Layer i on x; a geometry decoder's plain convs read the map g [N, G, Hm, Wm] too."""
        if g is not None and i in GEOMETRY_CONVS:
            x = torch.cat([x, resize_map(g, x.shape[-2], x.shape[-1]).to(x.dtype)], dim=-3)
        return self.decoder[i](x)

    def _check_map(self, g, n, lat_h, lat_w):
        G = geometry_channels(self.cfg)
        if not G:
            if g is not None:
                raise ValueError("this decoder takes no geometry map")
            return None
        if g is None:
            raise ValueError("this decoder takes a geometry map per frame")
        s = self.cfg["geometry"]["scale"]
        scale = 2 ** sum(self.cfg["decoder_space_upscale"]) * self.cfg["patch_size"]
        want = (n, G, lat_h * scale // s, lat_w * scale // s)
        if tuple(g.shape) != want:
            raise ValueError(f"geometry map shape {tuple(g.shape)}, expected {want}")
        return g

    def _run(self, x, i, state, out, g=None):
        """Push one frame x [1, C, H, W] through layers i.. and append finished frames."""
        while i < len(self.decoder):
            layer = self.decoder[i]
            if isinstance(layer, MemBlock):
                past = state["memory"][i]
                state["memory"][i] = x
                x = layer(x, torch.zeros_like(x) if past is None else past)
            elif isinstance(layer, TGrow):
                for sub in layer(x).split(1, dim=0):  # new frames in time order
                    self._run(sub, i + 1, state, out, g)
                return
            else:
                x = self._layer(i, x, g)
            i += 1
        state["produced"] += 1
        if state["produced"] > frames_to_trim(self.cfg):
            out.append(self.finish(x)[0])

    def decode_stream(self, latents, state, geometry=None):
        """latents [C, F, H, W] (the engine's latent order) -> list of [C_img, H', W'] frames;
        a geometry decoder's maps [F, G, Hm, Wm], one per frame."""
        out = []
        g = self._check_map(geometry, latents.shape[1], latents.shape[2], latents.shape[3])
        for f in range(latents.shape[1]):
            self._run(latents[:, f].unsqueeze(0), 0, state, out, None if g is None else g[f:f + 1])
        return out

    # ---- whole video at once (breadth first: every layer over all frames) ------------
    def decode_video(self, latents, geometry=None):
        """latents [C, T, H, W] -> [T', C_img, H', W'] (the stream's frames, trimmed);
        a geometry decoder's maps [T, G, Hm, Wm]."""
        g = self._check_map(geometry, latents.shape[1], latents.shape[2], latents.shape[3])
        x = latents.permute(1, 0, 2, 3)
        for i, layer in enumerate(self.decoder):
            if isinstance(layer, MemBlock):
                past = torch.cat([torch.zeros_like(x[:1]), x[:-1]], dim=0)
                x = layer(x, past)
            else:
                x = self._layer(i, x, g)
        return self.finish(x)[frames_to_trim(self.cfg):]


def to_bytes(frame):
    """[C, H, W] in [0, 1] -> uint8 [H, W, C]: round(255 x), half to even (torch.round)."""
    return torch.round(frame.clamp(0, 1) * 255).to(torch.uint8).permute(1, 2, 0).contiguous()


# ---- checkpoint helpers ---------------------------------------------------------------

def expected_shapes(cfg):
    """name -> shape of the decoder's parameters (upstream keys)."""
    return {k: list(v.shape) for k, v in TaehvDecoder(cfg).state_dict().items()}


def patch_tgrow(cfg, sd):
    """A TGrow weight with more output rows than this config needs (a checkpoint trained with
    time upscaling, run with it switched off) keeps its last rows, as upstream does."""
    want = expected_shapes(cfg)
    sd = dict(sd)
    for i in (7, 13, 19):
        k = f"decoder.{i}.conv.weight"
        if k in sd and k in want and sd[k].shape[0] > want[k][0]:
            sd[k] = sd[k][-want[k][0]:]
    return sd


def load_decoder(path, dtype=torch.float64):
    """A decoder directory (config.json + model.safetensors) -> TaehvDecoder in `dtype`."""
    with open(os.path.join(path, "config.json")) as f:
        cfg = json.load(f)
    model = TaehvDecoder(cfg)
    sd = safetensors_io.load_file(os.path.join(path, "model.safetensors"))
    sd = {k: v for k, v in sd.items() if k.startswith("decoder.")}
    sd = patch_tgrow(model.cfg, sd)
    model.load_state_dict({k: v.to(torch.float32) for k, v in sd.items()})
    return model.to(dtype)


def init_random(named_params, seed, out_gain=0.45, out_bias=0.5):
    """Random decoder weights of sane scale (frames neither black nor saturated, activations
    O(1) at every layer): weights ~ N(0, gain^2 / fan_in) with gain sqrt(2) for the convs
    that read ReLU outputs inside MemBlocks (halved for conv.4, which feeds the residual
    sum), 1 for the others and `out_gain` for the last conv; biases ~ 0.02 N(0, 1), the last
    conv's centred on `out_bias`.  `named_params` is `module.named_parameters()` of a
    TaehvDecoder or of upstream's TAEHV (only decoder.* is touched)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in named_params:
            if not name.startswith("decoder."):
                continue
            last = name.startswith("decoder.22.")
            if name.endswith("weight"):
                fan_in = p[0].numel()
                gain = 1.0
                if ".conv.0." in name or ".conv.2." in name:
                    gain = 2.0 ** 0.5
                elif ".conv.4." in name:
                    gain = 0.5 * 2.0 ** 0.5
                elif last:
                    gain = out_gain
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * gain / fan_in ** 0.5)
            else:
                b = 0.02 * torch.randn(p.shape, generator=g, dtype=torch.float64)
                p.copy_(b + (out_bias if last else 0.0))
