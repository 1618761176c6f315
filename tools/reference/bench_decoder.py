#!/usr/bin/python3
"""PyTorch peer of `npm run bench -- decoder`: times the reference TAEHV decoder (taehv.py,
float32, eager, `--threads` intra-op threads) streaming blocks of latent frames.

    /usr/bin/python3 tools/reference/bench_decoder.py DIR --latent C H W [--frames 3] [--blocks 3] [--threads 2]

Prints one JSON line: {"peer", "median_block_seconds", "block_seconds", "frames_per_block"}.
The first block (start-up frames trimmed, buffers allocated) is a warm-up and not timed.
"""

import argparse
import json
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import taehv as R  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--latent", nargs=3, type=int, required=True, metavar=("C", "H", "W"))
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--blocks", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dec = R.load_decoder(a.dir, dtype=torch.float32).eval()
    st = dec.new_stream()
    C, H, W = a.latent
    g = torch.Generator().manual_seed(0)
    times, counts = [], []
    with torch.no_grad():
        for b in range(a.blocks + 1):
            lat = torch.randn(C, a.frames, H, W, generator=g)
            t0 = time.perf_counter()
            frames = dec.decode_stream(lat, st)
            bytes_ = [R.to_bytes(f) for f in frames]  # the engine's decode() returns bytes too
            dt = time.perf_counter() - t0
            if b:
                times.append(dt)
                counts.append(len(bytes_))
    s = sorted(times)
    med = s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2
    print(json.dumps({"peer": f"PyTorch {torch.__version__} reference (float32, {a.threads} threads, mkldnn={torch.backends.mkldnn.is_available()})",
                      "median_block_seconds": med, "block_seconds": times, "frames_per_block": counts}))


if __name__ == "__main__":
    main()
