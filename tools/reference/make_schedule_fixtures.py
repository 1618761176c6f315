#!/usr/bin/python3
"""Golden rollouts of the schedule policies on the tiny fixture weights (deterministic; overwrites).

    /usr/bin/python3 tools/reference/make_schedule_fixtures.py [--out test/fixtures]

Each case runs the reference (float64, weights of test/fixtures/tiny) under config.json
overrides — the upstream models' samplers and worldcast's staggered pipeline — with
injected noise and random actions, and stores every call's inputs and the block it
returns:
    golden/schedules.json                 cases: name, config overrides, calls, steps
    golden/schedule_<case>.safetensors    prompt; call.<c>.actions, call.<c>.noise.<i>;
                                          call.<c>.x0 (+ frame_start in the JSON) when a block completes
Cases: Self Forcing (warped [1000, 750, 500, 250], shift 5), CausVid ([1000, 757, 522],
shift 8, not warped), Matrix-Game 2.0's sampler (warped [1000, 666, 333], shift 5), and the
staggered pipeline (staggered.py) with windows of 2 and 4 blocks, global and windowed attention.
"""

import argparse
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import safetensors_io  # noqa: E402
import staggered as SG  # noqa: E402
import wan_causal as W  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

SELF_FORCING = {"denoising_step_list": [1000, 750, 500, 250], "warp_denoising_step": True, "timestep_shift": 5.0}
CAUSVID = {"denoising_step_list": [1000, 757, 522], "warp_denoising_step": False, "timestep_shift": 8.0}
MATRIX_GAME_2 = {"denoising_step_list": [1000, 666, 333], "warp_denoising_step": True, "timestep_shift": 5.0}

# name, config overrides, staggered window (None = the block loop), calls
CASES = [
    ("self_forcing", dict(SELF_FORCING), None, 3),
    ("causvid", dict(CAUSVID), None, 3),
    ("matrix_game_2", dict(MATRIX_GAME_2), None, 3),
    ("staggered_w2", dict(SELF_FORCING, schedule={"type": "staggered", "window": 2}), 2, 5),
    ("staggered_w4", dict(SELF_FORCING, schedule={"type": "staggered", "window": 4}), 4, 7),
    ("staggered_w4_window", dict(SELF_FORCING, local_attn_size=10, sink_size=1,
                                 schedule={"type": "staggered", "window": 4}), 4, 8),
    ("staggered_w3_causvid", dict(CAUSVID, schedule={"type": "staggered", "window": 3}), 3, 5),
]


def make_case(model, base_cfg, index, name, overrides, window, calls):
    cfg = W.full_config(dict(base_cfg, **overrides))
    g = torch.Generator().manual_seed(5000 + index)
    C, F = cfg["in_dim"], cfg["num_frame_per_block"]
    H, Wd = cfg["latent_height"], cfg["latent_width"]
    n_act = W.action_dim(cfg["action"])
    n_keys = len(cfg["action"]["keys"])
    loop_keys = {k: v for k, v in overrides.items() if k != "schedule"}
    sched = W.FlowMatchSchedule.from_config(cfg)
    steps = len(sched.steps)
    if window is None:
        roll = W.Rollout(model, config=loop_keys)
        roll.schedule = sched
    else:
        roll = SG.StaggeredRollout(model, window, config=loop_keys)
    prompt = torch.randn(6, cfg["text_dim"], generator=g)
    tensors = {"prompt": prompt}
    meta_calls = []
    for c in range(calls):
        keys = (torch.rand(F, n_keys, generator=g) < 0.5).float()
        mouse = torch.rand(F, n_act - n_keys, generator=g) * 2 - 1
        actions = torch.cat([keys, mouse], dim=1)
        noise = [torch.randn(C, F, H, Wd, generator=g) for _ in range(steps)]
        tensors[f"call.{c}.actions"] = actions
        for i in range(steps):
            tensors[f"call.{c}.noise.{i}"] = noise[i]
        if window is None:
            start = roll.frame
            out = (roll.run_block(noise, prompt, actions), start)
        else:
            out = roll.step(noise, prompt, actions)
        if out is None:
            meta_calls.append({"frame_start": None})
        else:
            tensors[f"call.{c}.x0"] = out[0]
            meta_calls.append({"frame_start": int(out[1])})
        print(f"  {name} call {c}: " + ("filling" if out is None else f"block at frame {out[1]}, |x0| {out[0].std():.3f}"))
    tensors = {k: v.to(torch.float32) for k, v in tensors.items()}
    return {"name": name, "file": f"schedule_{name}.safetensors", "overrides": overrides, "window": window,
            "steps": sched.steps, "calls": meta_calls}, tensors


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "test", "fixtures"))
    args = ap.parse_args()
    base = os.path.join(args.out, "tiny")
    with open(os.path.join(base, "config.json")) as f:
        base_cfg = json.load(f)
    model = W.load_model(base, dtype=torch.float64)
    gdir = os.path.join(args.out, "golden")
    os.makedirs(gdir, exist_ok=True)
    cases = []
    for i, (name, ov, window, calls) in enumerate(CASES):
        meta, tensors = make_case(model, base_cfg, i, name, ov, window, calls)
        safetensors_io.save_file(tensors, os.path.join(gdir, meta["file"]), dtype="F32",
                                 metadata={"case": name, "computed_in": "float64"})
        cases.append(meta)
    # The staggered pipeline with a window of 1 is the block loop (its commit folded): check.
    roll = W.Rollout(model)
    stag = SG.StaggeredRollout(model, 1)
    g = torch.Generator().manual_seed(77)
    prompt = torch.randn(4, base_cfg["text_dim"], generator=g)
    for _ in range(3):
        noise = [torch.randn(4, 3, 8, 8, generator=g) for _ in range(4)]
        a = roll.run_block(noise, prompt)
        b, _ = stag.step(noise, prompt)
        assert (a - b).abs().max() < 1e-12, "window 1 must equal the block loop"
    with open(os.path.join(gdir, "schedules.json"), "w") as f:
        json.dump({"model": "tiny", "computed_in": "float64", "stored_as": "F32", "cases": cases}, f, indent=2)
        f.write("\n")
    print(f"wrote {len(cases)} schedule cases to {gdir}")


if __name__ == "__main__":
    main()
