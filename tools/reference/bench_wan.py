#!/usr/bin/env python3
"""PyTorch CPU peer for `npm run bench -- wan`: Self Forcing's block loop
(tools/reference/wan_causal.py's Rollout: 4 denoising forwards + 1 commit forward per
block, float32, eager) on a model directory, timing every block and the part of it spent
inside the transformer layers (AttentionBlock.forward), one JSON line per event.

    /usr/bin/python3 tools/reference/bench_wan.py MODEL_DIR --blocks 8 --threads 2

prints {"ready": ...} after loading, one {"block": ...} line per block and {"end": ...};
with --serve it runs one block per `step` line on stdin (until `end`) instead of --blocks.

Attention: wan_causal.attention materialises the whole [heads, queries, keys] logits; at
Wan2.1-1.3B size (12 heads x 4680 queries x 32760 keys) that is 7.4 GB, so this peer runs
the same softmax(q k^T / sqrt(d)) v in chunks of query rows (each row's softmax is
independent, so only the float32 rounding of the scale differs: it is applied to q).
Nothing else of the reference changes.

--inputs FILE (safetensors: `prompt` [rows, text_dim] and `noise.b{b}.s{i}` [C, F, H, W])
feeds the prompt and noise the engine is given; --out FILE writes each block's x0 as
`x0.b{b}`: `npm run bench -- wan` compares the two on a small Wan-shaped config first.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import wan_causal  # noqa: E402

_ATTN_BYTES = [512 << 20]


def chunked_attention(q, k, v):
    """softmax(q k^T / sqrt(d)) v without mask, q [Lq, n, d], k/v [Lk, n, d] -> [Lq, n, d],
    in chunks of query rows whose logits take at most _ATTN_BYTES[0] bytes."""
    Lq, n, d = q.shape
    Lk = k.shape[0]
    qh = (q * (1.0 / math.sqrt(d))).permute(1, 0, 2)  # [n, Lq, d]
    kt = k.permute(1, 2, 0).contiguous()  # [n, d, Lk], once per call (not per chunk)
    vh = v.permute(1, 0, 2).contiguous()  # [n, Lk, d]
    rows = max(1, min(Lq, _ATTN_BYTES[0] // (n * Lk * 4)))
    out = q.new_empty(n, Lq, d)
    for s in range(0, Lq, rows):
        p = torch.softmax(torch.matmul(qh[:, s:s + rows], kt), dim=-1)
        out[:, s:s + rows] = torch.matmul(p, vh)
    return out.permute(1, 0, 2)


def rss_status():
    """VmRSS / VmHWM / RssAnon / RssFile of this process in bytes (Linux), else {}."""
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key = line.split(":")[0]
                if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                    out[key] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return out


def reset_peak():
    """Reset VmHWM to the current RSS (Linux: write 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--blocks", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-rows", type=int, default=20)
    ap.add_argument("--attn-mb", type=int, default=512, help="most MB of attention logits per query chunk")
    ap.add_argument("--inputs", help="safetensors with prompt and noise.b{b}.s{i}")
    ap.add_argument("--out", help="write each block's x0 here (safetensors)")
    ap.add_argument("--serve", action="store_true",
                    help="run one block per `step` line read from stdin until `end` (bench/wan.ts interleaves peers)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    _ATTN_BYTES[0] = args.attn_mb << 20
    wan_causal.attention = chunked_attention  # SelfAttention / CrossAttention look it up by name

    layer_time = [0.0]
    forwards = [0]
    block_forward = wan_causal.AttentionBlock.forward
    model_forward = wan_causal.CausalWanModel.forward_block

    def timed_block(self, *a, **k):
        t0 = time.perf_counter()
        try:
            return block_forward(self, *a, **k)
        finally:
            layer_time[0] += time.perf_counter() - t0

    def counted_forward(self, *a, **k):
        forwards[0] += 1
        return model_forward(self, *a, **k)

    wan_causal.AttentionBlock.forward = timed_block
    wan_causal.CausalWanModel.forward_block = counted_forward

    rss_start = rss_status()
    model = wan_causal.load_model(args.model_dir, dtype=torch.float32)
    cfg = wan_causal.full_config(model.config)
    C, F = cfg["in_dim"], cfg["num_frame_per_block"]
    H, W = cfg["latent_height"], cfg["latent_width"]
    inputs = safetensors_io.load_file(args.inputs) if args.inputs else None
    if inputs is not None:
        context = inputs["prompt"].to(torch.float32)
    else:
        rows = min(args.prompt_rows, cfg["text_len"])
        context = torch.from_numpy(np.sin(np.arange(rows * cfg["text_dim"]) * 0.37).astype(np.float32)).view(rows, -1)
    roll = wan_causal.Rollout(model)
    steps = len(roll.schedule.steps)
    ps, ph, pw = model.patch_size
    tokens_per_frame = (H // ph) * (W // pw)
    rss_loaded = rss_status()
    peak_reset = reset_peak()  # the peak from here on: the blocks, not the load
    say({"ready": {
        "peer": f"PyTorch {torch.__version__} reference (wan_causal.py, fp32, eager, {args.threads} threads, "
                f"attention in query chunks of <= {args.attn_mb} MB of logits)",
        "threads": args.threads, "layers": model.num_layers, "tokens_per_block": F * tokens_per_frame,
        "steps": steps, "timesteps": roll.schedule.steps,
        "weight_bytes": sum(p.numel() * p.element_size() for p in model.parameters()),
        "rss_start": rss_start, "rss_loaded": rss_loaded, "peak_reset": peak_reset}})
    out = {}

    def commands():
        if args.serve:
            for line in sys.stdin:
                cmd = line.strip()
                if cmd == "end":
                    return
                if cmd == "step":
                    yield
        else:
            for _ in range(args.blocks):
                yield

    for b, _ in enumerate(commands()):
        if inputs is not None:
            noise = [inputs[f"noise.b{b}.s{i}"].to(torch.float32) for i in range(steps)]
        else:
            noise = [torch.randn(C, F, H, W) for _ in range(steps)]
        keys = (len(roll.kv.select(roll.frame, F)) + F) * tokens_per_frame
        layer_time[0], forwards[0] = 0.0, 0
        c0, t0 = time.process_time(), time.perf_counter()
        x0 = roll.run_block(noise, context)
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - c0
        kv_bytes = sum(t.numel() * t.element_size() for layer in roll.kv.k + roll.kv.v for t in layer.values())
        cross_bytes = sum(t.numel() * t.element_size() for kv in (roll.kv.cross_kv or []) for t in kv)
        print(f"PyTorch block {b}: {seconds:.2f} s ({layer_time[0]:.2f} s in {model.num_layers} layers, "
              f"{forwards[0]} forwards, {keys} keys)", file=sys.stderr, flush=True)
        if args.out:
            out[f"x0.b{b}"] = x0.contiguous()
        say({"block": {"block": b, "seconds": seconds, "layerSeconds": layer_time[0], "cpuSeconds": cpu,
                       "forwards": forwards[0], "keys": keys, "kvBytesAfter": kv_bytes, "crossBytes": cross_bytes,
                       "rssAfter": rss_status().get("VmRSS", 0)}})
    if args.out:
        safetensors_io.save_file(out, args.out)
    say({"end": {"rssEnd": rss_status()}})


def say(obj):
    print(json.dumps(obj), flush=True)


if __name__ == "__main__":
    main()
