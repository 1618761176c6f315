#!/usr/bin/python3
"""Verify the worldcast TAEHV decoder reference (taehv.py) against upstream's own taehv.py.

    mkdir -p /tmp/taehv && git -C /work/.mirror/madebyollin+taehv/repo archive HEAD taehv.py | tar -x -C /tmp/taehv
    /usr/bin/python3 tools/reference/check_taehv_upstream.py --upstream /tmp/taehv

Upstream's module is imported from DIR unchanged; only `tqdm` (absent from Debian's
python3-torch) is stubbed with a no-op progress bar.  For each variant it builds upstream's
`TAEHV(checkpoint_path=None, ...)` with its real channel widths (n_f = [256, 128, 64, 64]),
gives it random weights (taehv.init_random), saves the full state_dict (encoder included)
as a .pth, converts that with tools/convert_taehv.py, loads the result into the reference
and compares, in float64 unless noted:

  U1  upstream decode_video(parallel=True)       vs reference decode_video (whole video)
  U2  upstream decode_video(parallel=False)      vs reference streaming, blocks of 3,3,1 latents
  U3  upstream StreamingTAEHV.decode, one latent at a time, draining every frame
                                                 vs reference streaming, blocks of 3,3,1
  U4  uint8 frames (upstream's clamp * 255, round, byte) vs reference to_bytes (exact)

Variants: wan2.1 (latent 16, time (F,T,T), space (T,T,T), patch 1); hv1.5-like
(latent 32, patch 2); time/space switches off ((F,F) time, (T,F,T) space) loading a
checkpoint trained with full time upscaling (exercises upstream's patch_tgrow_layers); and
the wan2.1 variant in float32.  Latents are 4x6 (non-square) so H/W mix-ups show.
A negative control (MemBlock state reset between blocks) must differ.

With `--dump DIR`, each float64 variant also leaves DIR/<variant>/decoder (the converted
decoder directory) and DIR/<variant>/upstream.safetensors (`latents` [C, T, H, W], `frames` = upstream's
decode_video(parallel=False) output [n, 3, H', W'], both F32) and `upstream.json` (the
block split); `WORLDCAST_TAEHV_UPSTREAM=DIR npx vitest run test/decoder.test.ts` then
checks the native engine against upstream directly at upstream's real widths.
"""

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402

import safetensors_io  # noqa: E402
import taehv as R  # noqa: E402


def import_upstream(path):
    if "tqdm" not in sys.modules:
        tq = types.ModuleType("tqdm")
        tqa = types.ModuleType("tqdm.auto")

        class _Bar:
            def __init__(self, it=None, **kw):
                self.it = it

            def __iter__(self):
                return iter(self.it)

            def update(self, n=1):
                pass

            def close(self):
                pass

        tqa.tqdm = _Bar
        tq.auto = tqa
        sys.modules["tqdm"] = tq
        sys.modules["tqdm.auto"] = tqa
    spec = importlib.util.spec_from_file_location("upstream_taehv", os.path.join(path, "taehv.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def maxerr(a, b):
    a, b = a.double(), b.double()
    d = (a - b).abs().max().item()
    return d, d / max(b.abs().max().item(), 1e-30)


def run_variant(U, name, kwargs, load_kwargs, dtype, tmp, blocks=(3, 3, 1), seed=0, dump=None):
    """kwargs build the upstream model whose weights are saved; load_kwargs (if given) the
    model that loads them (time upscale switched off -> patch_tgrow_layers)."""
    torch.manual_seed(seed)
    src = U.TAEHV(checkpoint_path=None, **kwargs)
    R.init_random(src.named_parameters(), seed=100 + seed)
    pth = os.path.join(tmp, f"{name}.pth")
    torch.save(src.state_dict(), pth)
    if load_kwargs is not None:
        up = U.TAEHV(checkpoint_path=pth, **load_kwargs)
    else:
        up = src
    up = up.to(dtype).eval()

    out_dir = os.path.join(tmp, name)
    sets = []
    lk = load_kwargs if load_kwargs is not None else kwargs
    if "decoder_time_upscale" in lk:
        sets += ["--set", "decoder_time_upscale=" + str([bool(b) for b in lk["decoder_time_upscale"]]).lower().replace("'", "")]
    if "decoder_space_upscale" in lk:
        sets += ["--set", "decoder_space_upscale=" + str([bool(b) for b in lk["decoder_space_upscale"]]).lower()]
    subprocess.run([sys.executable, os.path.join(HERE, "..", "convert_taehv.py"), pth, "--out", out_dir] + sets,
                   check=True, stdout=subprocess.DEVNULL)
    ref = R.load_decoder(out_dir, dtype=dtype).eval()

    C = up.latent_channels
    T = sum(blocks)
    g = torch.Generator().manual_seed(7 + seed)
    lat = torch.randn(C, T, 4, 6, generator=g, dtype=torch.float64).to(dtype)  # [C, T, H, W]
    x_up = lat.permute(1, 0, 2, 3).unsqueeze(0)  # NTCHW

    res = {}
    with torch.no_grad():
        whole_up = up.decode_video(x_up, parallel=True, show_progress_bar=False)[0]
        whole_ref = ref.decode_video(lat)
        res["U1 parallel vs whole"] = (whole_up.shape == whole_ref.shape, *maxerr(whole_ref, whole_up))

        seq_up = up.decode_video(x_up, parallel=False, show_progress_bar=False)[0]
        st = ref.new_stream()
        frames = []
        t0 = 0
        for b in blocks:
            frames += ref.decode_stream(lat[:, t0:t0 + b], st)
            t0 += b
        stream_ref = torch.stack(frames)
        res["U2 sequential vs stream"] = (seq_up.shape == stream_ref.shape, *maxerr(stream_ref, seq_up))

        s = U.StreamingTAEHV(up)
        sframes = []
        for t in range(T):
            f = s.decode(x_up[:, t:t + 1])
            while f is not None:
                sframes.append(f[0, 0])
                f = s.decode()
        s_up = torch.stack(sframes)
        res["U3 StreamingTAEHV vs stream"] = (s_up.shape == stream_ref.shape, *maxerr(stream_ref, s_up))

        bytes_up = whole_up.clamp(0, 1).mul(255).round().byte().permute(0, 2, 3, 1)
        bytes_ref = torch.stack([R.to_bytes(f) for f in whole_ref])
        nd = (bytes_up.int() - bytes_ref.int()).abs().max().item()
        res["U4 uint8 frames"] = (bytes_up.shape == bytes_ref.shape, float(nd), float(nd))

        # negative control: forgetting the MemBlock state between blocks must show
        st2 = ref.new_stream()
        nf = []
        t0 = 0
        for b in blocks:
            keep = st2["produced"]
            st2 = ref.new_stream()
            st2["produced"] = keep
            nf += ref.decode_stream(lat[:, t0:t0 + b], st2)
            t0 += b
        neg = maxerr(torch.stack(nf), seq_up)[0]

        inside = ((whole_ref > 0) & (whole_ref < 1)).double().mean().item()

    if dump is not None:
        d = os.path.join(dump, name)
        os.makedirs(os.path.join(d, "decoder"), exist_ok=True)
        for f in ("config.json", "model.safetensors"):
            shutil.copy(os.path.join(out_dir, f), os.path.join(d, "decoder", f))
        safetensors_io.save_file({"latents": lat.float(), "frames": seq_up.float()}, os.path.join(d, "upstream.safetensors"))
        with open(os.path.join(d, "upstream.json"), "w") as f:
            json.dump({"blocks": list(blocks), "height": int(lat.shape[2]), "width": int(lat.shape[3]),
                       "latent_channels": int(C)}, f)
    return res, neg, tuple(whole_ref.shape), inside


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True, help="directory holding upstream's taehv.py")
    ap.add_argument("--dump", help="also write converted decoders + upstream frames here (see the docstring)")
    a = ap.parse_args()
    U = import_upstream(a.upstream)
    torch.set_num_threads(2)
    variants = [
        ("wan2.1 f64", dict(latent_channels=16), None, torch.float64),
        ("hv1.5-like patch2 f64", dict(latent_channels=32, patch_size=2), None, torch.float64),
        ("switches off f64", dict(latent_channels=16),
         dict(latent_channels=16, decoder_time_upscale=(False, False), decoder_space_upscale=(True, False, True)),
         torch.float64),
        ("wan2.1 f32", dict(latent_channels=16), None, torch.float32),
    ]
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, kw, lkw, dt) in enumerate(variants):
            res, neg, shape, inside = run_variant(U, name.replace(" ", "_").replace(".", ""), kw, lkw, dt, tmp, seed=i,
                                                  dump=a.dump if dt == torch.float64 else None)
            print(f"{name}: frames {list(shape)}, {100 * inside:.0f}% of values inside (0,1)")
            tol = 1e-12 if dt == torch.float64 else 1e-5
            for k, (shape_ok, abs_e, rel_e) in res.items():
                good = shape_ok and (abs_e == 0 if k.startswith("U4") and dt == torch.float64 else
                                     abs_e <= 1 if k.startswith("U4") else rel_e <= tol)
                ok &= good
                print(f"  {k:32s} shape {'ok' if shape_ok else 'MISMATCH'}  max abs {abs_e:.3e} (rel {rel_e:.1e})"
                      f"{'' if good else '  FAIL'}")
            good_neg = neg > 1e-3
            ok &= good_neg
            print(f"  negative control (state reset per block): {neg:.2e}{'' if good_neg else '  FAIL (not detected)'}")
    print("RESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
