"""Shared pieces of the default-world trainers: the dataset written by
`npm run dataset` (tools/dataset/generate.ts), seeded clip sampling, resumable
checkpoints, a log file and a progress bar (no third-party packages beyond Debian's
python3-torch and python3-numpy).

Dataset layout (little-endian raw files, frames concatenated over episodes):
    meta.json     {width, height, fps, prompts, actionSpace, episodes: [{id, start, frames, ...}], totalFrames}
    frames.u8     uint8   [N, H, W, 3]
    actions.f32   float32 [N, A]   (action of frame f = the motion from frame f-1 to f; frame 0: zeros)
    poses.f32     float32 [N, 5]   foot x, y, z, yaw, pitch
    prompts.u8    uint8   [N]      index into meta.prompts
    latents.f32   float32 [N, C, h, w]   written by train_ae.py --encode (the DiT's training data)
"""

import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))


def setup_threads(n=None):
    n = n or int(os.environ.get("WORLDCAST_TRAIN_THREADS", os.cpu_count() or 1))
    torch.set_num_threads(n)
    return n


class WorldData:
    """Memory-mapped view of a generated dataset."""

    def __init__(self, root, need_latents=False, latents="latents.f32"):
        """`latents`: the file of encoded frames in `root` (one dataset can hold the latents
        of several autoencoders side by side, e.g. latents_sharp.f32)."""
        self.root = root
        with open(os.path.join(root, "meta.json")) as f:
            self.meta = json.load(f)
        m = self.meta
        self.N = m["totalFrames"]
        self.H, self.W = m["height"], m["width"]
        self.frames = np.memmap(os.path.join(root, "frames.u8"), np.uint8, "r", shape=(self.N, self.H, self.W, 3))
        n_act = len(m["actionSpace"]["keys"]) + len(m["actionSpace"]["mouse"])
        self.actions = np.fromfile(os.path.join(root, "actions.f32"), np.float32).reshape(self.N, n_act)
        self.poses = np.fromfile(os.path.join(root, "poses.f32"), np.float32).reshape(self.N, 5)
        self.prompts = np.fromfile(os.path.join(root, "prompts.u8"), np.uint8)
        self.episodes = m["episodes"]
        # geometry.f32 (npm run dataset -- --geometry): each frame's level-geometry map at
        # the latent size (render.ts renderGeometry), None when the dataset has none
        self.geometry = None
        g = m.get("geometry")
        if g and os.path.exists(os.path.join(root, "geometry.f32")):
            self.geometry = np.fromfile(os.path.join(root, "geometry.f32"), np.float32).reshape(
                self.N, g["channels"], g["height"], g["width"])
        self.latents = None
        self.latents_path = lat = os.path.join(root, latents)
        if os.path.exists(lat) and os.path.exists(lat + ".json"):
            with open(lat + ".json") as f:
                shape = json.load(f)["shape"]
            # Read into memory (~320 MB) when training on them: with a memory map, random clip
            # reads showed a third of the time in I/O wait on these VMs.
            self.latents = (np.fromfile(lat, np.float32).reshape(shape) if need_latents
                            else np.memmap(lat, np.float32, "r", shape=tuple(shape)))
        elif need_latents:
            raise SystemExit(f"{lat} is missing: run train_ae.py --encode (--latents {latents}) first")
        if self.latents is not None and need_latents and self.latents.shape[0] < self.N:
            # latents of the first episodes only (train_ae.py --encode --encode-episodes K):
            # training on those
            n = self.latents.shape[0]
            self.episodes = [e for e in self.episodes if e["start"] + e["frames"] <= n]

    def charmask16(self):
        """charmask16.u8 (tools/train/char_masks.ts): [N, H/8, W/8] uint8, 1 on the latent
        cells other characters cover (the training losses weight them up)."""
        path = os.path.join(self.root, "charmask16.u8")
        if not os.path.exists(path):
            raise SystemExit(f"--char-weight needs {path} (tools/train/char_masks.ts)")
        return np.fromfile(path, np.uint8).reshape(self.N, self.H // 8, self.W // 8)

    def split(self, val_every=10):
        """Episode ids for training and validation (every `val_every`-th episode is held out)."""
        tr = [e for e in self.episodes if e["id"] % val_every != val_every - 1]
        va = [e for e in self.episodes if e["id"] % val_every == val_every - 1]
        return tr, va

    def clip_starts(self, episodes, length):
        """Every frame index where a clip of `length` frames fits inside its episode."""
        out = []
        for e in episodes:
            for s in range(e["start"], e["start"] + e["frames"] - length + 1):
                out.append(s)
        return np.asarray(out, dtype=np.int64)

    def frames_tensor(self, start, length):
        """[length, 3, H, W] float in [0, 1]."""
        x = torch.from_numpy(np.ascontiguousarray(self.frames[start:start + length]))
        return x.permute(0, 3, 1, 2).float().div_(255.0)


class Log:
    """Appends lines to a log file and echoes them; a progress bar on stderr."""

    def __init__(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.f = open(path, "a", buffering=1)
        self.t0 = time.time()

    def __call__(self, msg):
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        self.f.write(line + "\n")

    def bar(self, done, total, extra=""):
        w = 30
        k = int(w * min(done, total) / max(total, 1))
        el = time.time() - self.t0
        sys.stderr.write(f"\r[{'#' * k}{'.' * (w - k)}] {done}/{total} {el / 60:5.1f} min {extra}   ")
        sys.stderr.flush()


def save_checkpoint(path, **state):
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path):
    if not os.path.exists(path):
        return None
    return torch.load(path, map_location="cpu")


class Deadline:
    """Stops a run after `minutes` of wall time (across resumes: the spent time is checkpointed)."""

    def __init__(self, minutes, spent=0.0):
        self.limit = minutes * 60.0
        self.spent0 = spent
        self.t0 = time.time()

    @property
    def spent(self):
        return self.spent0 + time.time() - self.t0

    def over(self):
        return self.spent >= self.limit
