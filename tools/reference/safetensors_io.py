"""Minimal pure-Python safetensors reader/writer (no `safetensors` package needed).

File layout (https://github.com/huggingface/safetensors, "Format"):

    u64 little-endian N | N bytes of UTF-8 JSON header | data bytes

The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
(offsets relative to the first data byte) plus an optional "__metadata__" object whose
values are strings.  This writer:

  * lays the tensors out contiguously in name order, without gaps;
  * pads the JSON header with spaces so the data section starts on an 8-byte boundary;
  * supports F32, F16 and BF16 (plus F64/I32/I64/U8 for convenience when reading).

Tensors may be given as torch tensors or numpy arrays.  BF16 is written by rounding
float32 to nearest-even (the same rounding as torch's `.to(torch.bfloat16)`), or from a
torch bfloat16 tensor as-is.
"""

import json
import struct

import numpy as np

try:  # torch is optional for the writer, used by the reader when present
    import torch
except ImportError:  # pragma: no cover
    torch = None

_NP_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "U8": np.dtype("u1"),
}
_ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "U8": 1}
_ALIASES = {
    "f64": "F64", "float64": "F64",
    "f32": "F32", "float32": "F32", "fp32": "F32",
    "f16": "F16", "float16": "F16", "fp16": "F16", "half": "F16",
    "bf16": "BF16", "bfloat16": "BF16",
    "i64": "I64", "int64": "I64", "i32": "I32", "int32": "I32", "u8": "U8", "uint8": "U8",
}


def normalize_dtype(name):
    """'f32' / 'float32' / 'F32' / torch.float32 -> 'F32'."""
    if torch is not None and isinstance(name, torch.dtype):
        name = str(name).replace("torch.", "")
    key = str(name)
    if key.upper() in _ITEMSIZE:
        return key.upper()
    if key.lower() in _ALIASES:
        return _ALIASES[key.lower()]
    raise ValueError(f"unsupported safetensors dtype {name!r}")


def _f32_to_bf16_bits(a):
    """float32 array -> uint16 bf16 bit patterns, round to nearest even (NaN kept NaN)."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    bits = a.view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    out = rounded.astype(np.uint16)
    nan = np.isnan(a)
    if nan.any():
        out[nan] = ((bits[nan] >> 16) | 0x40).astype(np.uint16)  # quiet NaN
    return out


def _bf16_bits_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _tensor_bytes(value, dtype):
    """Return (raw little-endian bytes, shape) of `value` stored as safetensors dtype `dtype`."""
    if torch is not None and isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        shape = list(t.shape)
        if dtype == "BF16":
            if t.dtype == torch.bfloat16:
                bits = t.view(torch.int16).numpy().view(np.uint16)
            else:
                bits = _f32_to_bf16_bits(t.to(torch.float32).numpy())
            return bits.astype("<u2").tobytes(), shape
        if t.dtype == torch.bfloat16:
            t = t.to(torch.float32)
        arr = t.numpy()
    else:
        arr = np.asarray(value)
        shape = list(arr.shape)
        if dtype == "BF16":
            return _f32_to_bf16_bits(arr.astype(np.float32)).astype("<u2").tobytes(), shape
    return np.ascontiguousarray(arr.astype(_NP_DTYPES[dtype])).tobytes(), shape


def save_file(tensors, path, dtype="F32", metadata=None, dtypes=None):
    """Write `tensors` (name -> torch tensor / numpy array) to `path`.

    dtype:    storage dtype for every tensor ('F32', 'F16', 'BF16', ...);
    dtypes:   optional per-name override {name: dtype};
    metadata: optional {str: str} stored under "__metadata__".
    """
    default = normalize_dtype(dtype)
    header = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("safetensors __metadata__ keys and values must be strings")
        header["__metadata__"] = dict(metadata)
    blobs = []
    offset = 0
    for name in sorted(tensors):
        if name == "__metadata__":
            raise ValueError("'__metadata__' is reserved")
        dt = normalize_dtype((dtypes or {}).get(name, default))
        raw, shape = _tensor_bytes(tensors[name], dt)
        n = 1
        for s in shape:
            n *= s
        assert len(raw) == n * _ITEMSIZE[dt], name
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((-(8 + len(hjson))) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for raw in blobs:
            f.write(raw)


def read_header(path):
    """Return (header dict without __metadata__, metadata dict, data start offset)."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise ValueError(f"{path}: not a safetensors file (too short)")
        (n,) = struct.unpack("<Q", head)
        if n > 100 * 1024 * 1024:
            raise ValueError(f"{path}: implausible safetensors header length {n}")
        header = json.loads(f.read(n).decode("utf-8"))
    metadata = header.pop("__metadata__", None) or {}
    return header, metadata, 8 + n


def load_file(path, as_numpy=False, with_metadata=False):
    """Read a safetensors file.

    Returns {name: torch.Tensor} (BF16 as torch.bfloat16) or, with as_numpy=True (or when
    torch is missing), {name: np.ndarray} with BF16 widened to float32.
    With with_metadata=True returns (tensors, metadata).
    """
    header, metadata, start = read_header(path)
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read()
    out = {}
    for name, info in header.items():
        dt = normalize_dtype(info["dtype"])
        b, e = info["data_offsets"]
        shape = tuple(info["shape"])
        n = 1
        for s in shape:
            n *= s
        if e - b != n * _ITEMSIZE[dt] or e > len(data):
            raise ValueError(f"{path}: tensor {name!r} has inconsistent data_offsets {info['data_offsets']}")
        raw = data[b:e]
        if dt == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").reshape(shape)
            if as_numpy or torch is None:
                out[name] = _bf16_bits_to_f32(bits).reshape(shape)
            else:
                out[name] = torch.from_numpy(bits.astype(np.uint16).view(np.int16).copy()).view(torch.bfloat16)
        else:
            arr = np.frombuffer(raw, dtype=_NP_DTYPES[dt]).reshape(shape).copy()
            out[name] = arr if (as_numpy or torch is None) else torch.from_numpy(arr)
    if with_metadata:
        return out, metadata
    return out
