"""A Python client for worldcast's agent environments (standard library + msgpack only).

It starts the env server as a child process speaking the msgpack protocol on stdio
(env/src/protocol.ts: each message is a uint32 little-endian length, then msgpack):

    from worldcast_env import Client
    with Client() as client:                      # runs `node --import tsx env/src/serve.ts --stdio`
        env = client.make(options={"actionType": "discrete", "maxEpisodeSteps": 50,
                                   "reward": [{"type": "goalTask", "center": [0, -8]}]})
        obs, info = env.reset(seed=1)
        obs, reward, terminated, truncated, info = env.step(1)
        env.close()

Arrays arrive as `Array` objects (dtype, shape, raw bytes); `Array.numpy()` gives a numpy
view when numpy is installed. Debian: `apt-get install python3-msgpack`.
"""
import os
import struct
import subprocess
import sys

import msgpack

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

_FORMATS = {"uint8": "B", "int8": "b", "int32": "i", "float32": "f", "float64": "d"}


class EnvError(RuntimeError):
    """An error the server reported: `type` is its class (e.g. ArgumentError)."""

    def __init__(self, type_, message):
        super().__init__(f"{type_}: {message}")
        self.type = type_


class Array:
    """An n-dimensional array from the server: dtype name, shape, little-endian bytes."""

    def __init__(self, dtype, shape, data):
        self.dtype, self.shape, self.data = dtype, tuple(shape), bytes(data)

    def flat(self):
        """The values as a flat memoryview of the right type."""
        return memoryview(self.data).cast(_FORMATS[self.dtype])

    def numpy(self):
        import numpy as np  # optional

        return np.frombuffer(self.data, dtype=np.dtype(self.dtype).newbyteorder("<")).reshape(self.shape)

    def __repr__(self):
        return f"Array({self.dtype}, shape={self.shape})"


def _decode(v):
    if isinstance(v, dict):
        if set(v) == {"dtype", "shape", "data"} and isinstance(v["data"], (bytes, bytearray)):
            return Array(v["dtype"], v["shape"], v["data"])
        return {k: _decode(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_decode(x) for x in v]
    return v


class Client:
    """One env server process and the requests to it (answered in order)."""

    def __init__(self, model=None, threads=None, command=None):
        cmd = command or ["node", "--import", "tsx", os.path.join(ROOT, "env", "src", "serve.ts"), "--stdio"]
        if model:
            cmd += ["--model", model]
        if threads:
            cmd += ["--threads", str(threads)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=sys.stderr)
        self._id = 0

    def call(self, method, **params):
        self._id += 1
        payload = msgpack.packb({"id": self._id, "method": method, "params": params}, use_bin_type=True)
        self.proc.stdin.write(struct.pack("<I", len(payload)) + payload)
        self.proc.stdin.flush()
        head = self._read(4)
        (n,) = struct.unpack("<I", head)
        reply = msgpack.unpackb(self._read(n), raw=False)
        if reply.get("error"):
            raise EnvError(reply["error"]["type"], reply["error"]["message"])
        return _decode(reply["result"])

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.proc.stdout.read(n - len(buf))
            if not chunk:
                raise EnvError("ConnectionError", "the env server exited")
            buf += chunk
        return buf

    def make(self, kind="single", **params):
        """An environment: kind 'single' (Gymnasium Env), 'vector' (num_envs=…) or 'multi' (agents=…)."""
        r = self.call("make", kind=kind, **params)
        return Env(self, r)

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Env:
    """A remote environment with Gymnasium's reset/step/close (spaces as JSON dicts)."""

    def __init__(self, client, made):
        self.client = client
        self.handle = made["env"]
        self.observation_space = made["observation_space"]
        self.action_space = made["action_space"]
        self.metadata = made.get("metadata", {})
        self.possible_agents = made.get("possible_agents")

    def reset(self, seed=None, options=None):
        params = {"env": self.handle}
        if seed is not None:
            params["seed"] = seed
        if options is not None:
            params["options"] = options
        r = self.client.call("reset", **params)
        return r["obs"], r["info"]

    def step(self, action):
        r = self.client.call("step", env=self.handle, action=action)
        return r["obs"], r["reward"], r["terminated"], r["truncated"], r["info"]

    def close(self):
        self.client.call("close", env=self.handle)
