"""Reference of worldcast's MAGI-1-style staggered pipeline (config.json
`"schedule": {"type": "staggered", "window": W}`), in the terms of wan_causal.py.

MAGI-1 (SandAI-org/MAGI-1, its chunk-wise inference) denoises several chunks at once, each
at its own noise level: the next chunk starts as soon as the one before has gone a fixed
part of the way, every forward advances all chunks in flight together, and each chunk
attends block-causally to everything before it — clean chunks through their KV cache,
chunks still in flight through their current (noisier-the-newer) keys and values. Here,
with S denoising steps and a window of W chunks (S % W == 0):

  * each call enters one block (its noise and actions) and runs S / W joint forwards;
  * in a joint forward the sequences are, oldest first: the block completed by the
    previous call, at t = context_noise, whose K/V this forward commits (folded, as
    worldcast's fold_commit; committed once), then every block in flight at its own
    timestep steps[stage];
  * every sequence attends to the committed frames its window selects, to the frames of
    the earlier sequences of the same forward that the same window reaches, and to
    itself (bidirectional inside a block). The window is by frame index: frame f is
    visible to a block starting at s when L = -1, f < sink, or f >= s - (L - sink - F).
    So a block at stage k sees the W-1-k ... blocks ahead of it: a stage-dependent number;
  * after each forward every block in flight takes its sampler step (x0 = x - sigma v,
    then re-noise with its own noise for the next stage); the oldest block completes at
    the end of a call (after S forwards in all) and is returned; the call returns None
    while the pipeline fills (the first W - 1 calls).

W = 1 is the ordinary block loop with the commit folded into the next block's first
forward; W = S runs one forward per call.
"""

import torch

import wan_causal as W


def visible(frame, block_start, L, S, F):
    """Whether a block of F frames at block_start attends to (earlier) frame `frame`."""
    if frame >= block_start:
        return False
    if L == -1 or frame < S:
        return True
    return frame >= block_start - (L - S - F)


@torch.no_grad()
def joint_forward(model, seqs, kv, context, L, S):
    """One batched forward over `seqs` (oldest first), each a dict with x [C, F, H, W],
    t [F], frame_start, actions ([F, n_act] or None), commit (bool). Returns v per sequence.
    Committed frames come from kv (roped K/V per absolute frame)."""
    cross = kv.cross_for(model, torch.as_tensor(context).to(model.dtype))
    pt, ph, pw = model.patch_size
    st = []
    for q in seqs:
        x = torch.as_tensor(q["x"]).to(model.dtype)
        C, F, H, Wd = x.shape
        tok = model.patch_embedding(x.unsqueeze(0))[0]
        f, h, w = tok.shape[1:]
        t = torch.as_tensor(q["t"], dtype=torch.float64).reshape(-1)
        e, e0 = model.time_embed(t, q.get("actions"))
        committed = [fr for fr in kv.committed_frames if visible(fr, q["frame_start"], L, S, F)]
        st.append({"tok": tok.flatten(1).transpose(0, 1), "e": e, "e0": e0, "F": F, "shape": (f, h, w),
                   "fs": h * w, "rope": W.rope_table(model.head_dim, q["frame_start"], f, h, w),
                   "committed": committed, "k": [], "v": []})
    for i, blk in enumerate(model.blocks):
        for j, q in enumerate(seqs):
            s = st[j]
            pk, pv = kv.gather(i, s["committed"])
            ks = [] if pk is None else [pk]
            vs = [] if pv is None else [pv]
            for o in range(j):  # earlier sequences of this forward, frame by frame within the window
                so, qo = st[o], seqs[o]
                for fi in range(so["F"]):
                    if visible(qo["frame_start"] + fi, q["frame_start"], L, S, s["F"]):
                        ks.append(so["k"][i][fi * so["fs"]:(fi + 1) * so["fs"]])
                        vs.append(so["v"][i][fi * so["fs"]:(fi + 1) * so["fs"]])
            pk = torch.cat(ks, dim=0) if ks else None
            pv = torch.cat(vs, dim=0) if vs else None
            s["tok"], k, v = blk(s["tok"], s["e0"], s["F"], s["rope"], pk, pv, cross[i])
            s["k"].append(k)
            s["v"].append(v)
    outs = []
    for q, s in zip(seqs, st):
        if q["commit"]:
            for i in range(len(model.blocks)):
                kv.commit(i, q["frame_start"], s["k"][i], s["v"][i], s["F"])
        out = model.head(s["tok"], s["e"], s["F"])
        f, h, w = s["shape"]
        c = model.out_dim
        out = out.view(f, h, w, pt, ph, pw, c).permute(6, 0, 3, 1, 4, 2, 5)
        outs.append(out.reshape(c, f * pt, h * ph, w * pw))
    return outs


class StaggeredRollout:
    """The staggered pipeline over one session (see the module docstring)."""

    def __init__(self, model, window, config=None):
        cfg = W.full_config(dict(model.config, **(config or {})))
        self.model, self.cfg = model, cfg
        self.schedule = W.FlowMatchSchedule.from_config(cfg)
        self.F = int(cfg["num_frame_per_block"])
        self.L, self.S = int(cfg["local_attn_size"]), int(cfg["sink_size"])
        self.kv = model.new_kv_state(self.L, self.S)
        n = len(self.schedule.steps)
        if window < 1 or n % window:
            raise ValueError(f"window {window} must divide the {n} denoising steps")
        self.window, self.per_call = window, n // window
        self.flight = []  # oldest first: {start, stage, x, noise, actions}
        self.pending = None  # completed block awaiting its (folded) commit: {start, x0, actions}
        self.next_start = 0

    @torch.no_grad()
    def step(self, noise, context, actions=None, trace=None):
        """Enter a block (noise: one [C, F, H, W] per step; actions [F, n_act] or None) and run
        one call. Returns (x0, frame_start) of the block completed, or None while filling.
        `trace` receives, per forward, the list of {x, t, frame_start, v} of its sequences."""
        steps, sig = self.schedule.steps, self.schedule.step_sigmas
        dt = self.model.dtype
        self.flight.append({"start": self.next_start, "stage": 0, "x": torch.as_tensor(noise[0]).to(dt),
                            "noise": noise, "actions": actions})
        self.next_start += self.F
        done = None
        for _ in range(self.per_call):
            seqs = []
            if self.pending is not None:
                p = self.pending
                seqs.append({"x": p["x0"], "t": torch.full((self.F,), float(self.cfg["context_noise"]),
                                                             dtype=torch.float64),
                             "frame_start": p["start"], "actions": p["actions"], "commit": True})
            for b in self.flight:
                seqs.append({"x": b["x"], "t": torch.full((self.F,), float(steps[b["stage"]]), dtype=torch.float64),
                             "frame_start": b["start"], "actions": b["actions"], "commit": False})
            vs = joint_forward(self.model, seqs, self.kv, context, self.L, self.S)
            if trace is not None:
                trace.append([{"x": q["x"].clone(), "t": q["t"].clone(), "frame_start": q["frame_start"], "v": v.clone()}
                              for q, v in zip(seqs, vs)])
            if self.pending is not None:
                vs = vs[1:]
                self.pending = None
            for b, v in zip(self.flight, vs):
                k = b["stage"]
                b["x0"] = b["x"] - sig[k] * v
                b["stage"] = k + 1
                if k + 1 < len(steps):
                    b["x"] = (1 - sig[k + 1]) * b["x0"] + sig[k + 1] * torch.as_tensor(b["noise"][k + 1]).to(dt)
        if self.flight and self.flight[0]["stage"] == len(steps):
            b = self.flight.pop(0)
            self.pending = {"start": b["start"], "x0": b["x0"], "actions": b["actions"]}
            done = (b["x0"], b["start"])
        return done
