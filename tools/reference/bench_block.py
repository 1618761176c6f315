#!/usr/bin/env python3
"""PyTorch CPU peer for `npm run bench -- block`: times the reference block loop
(tools/reference/wan_causal.py, float32, eager) on a model directory and prints JSON.

    /usr/bin/python3 tools/reference/bench_block.py MODEL_DIR --blocks 4 --threads 2
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wan_causal  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--blocks", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-rows", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = wan_causal.load_model(args.model_dir, dtype=torch.float32)
    cfg = wan_causal.full_config(model.config)
    roll = wan_causal.Rollout(model)
    C, F = cfg["in_dim"], cfg["num_frame_per_block"]
    H, W = cfg["latent_height"], cfg["latent_width"]
    rows = min(args.prompt_rows, cfg["text_len"])
    context = torch.randn(rows, cfg["text_dim"])
    steps = len(roll.schedule.steps)
    times = []
    for b in range(args.blocks + 1):  # block 0 warms up (and computes the prompt's K/V)
        noise = [torch.randn(C, F, H, W) for _ in range(steps)]
        t0 = time.perf_counter()
        roll.run_block(noise, context)
        if b > 0:
            times.append(time.perf_counter() - t0)
    print(json.dumps({"peer": f"PyTorch {torch.__version__} reference (fp32, eager, {args.threads} threads)",
                      "block_seconds": times, "median_block_seconds": statistics.median(times)}))


if __name__ == "__main__":
    main()
