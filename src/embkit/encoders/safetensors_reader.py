"""Read a .safetensors file into numpy arrays without torch (the format is a JSON
header followed by raw little-endian tensors)."""

import json
import os
import struct
from pathlib import Path

import numpy as np

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def _header(f) -> tuple[dict, int]:
    """The tensors' entries (name -> dtype, shape, offsets) and where their data starts."""
    (header_len,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(header_len))
    header.pop("__metadata__", None)
    return header, 8 + header_len


def _array(path: Path, name: str, info: dict, raw: bytes) -> np.ndarray:
    if info["dtype"] == "BF16":  # bfloat16 is the top half of a float32
        halves = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
        array = halves.view(np.float32)
    elif info["dtype"] in _DTYPES:
        array = np.frombuffer(raw, dtype=_DTYPES[info["dtype"]])
    else:
        raise ValueError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
    if array.dtype == np.float16:
        array = array.astype(np.float32)
    return array.reshape(info["shape"])


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of the file as a float32 (or integer) numpy array, by name: views of
    one read-only buffer the file is read into (f.read() and slicing its bytes each held
    a second copy of the weights while they were made)."""
    with open(path, "rb") as f:
        header, start = _header(f)
        data = bytearray(os.fstat(f.fileno()).st_size - start)
        if f.readinto(data) != len(data):
            raise ValueError(f"{path}: the file changed while it was read")
        data = memoryview(data).toreadonly()
    return {name: _array(path, name, info, data[info["data_offsets"][0]:info["data_offsets"][1]])
            for name, info in header.items()}


def read_tensor(path: Path, name: str) -> np.ndarray:
    """One tensor, reading only its own bytes."""
    with open(path, "rb") as f:
        header, data_start = _header(f)
        info = header[name]
        start, end = info["data_offsets"]
        f.seek(data_start + start)
        return _array(path, name, info, f.read(end - start))


def tensor_shapes(path: Path) -> dict[str, list[int]]:
    """Each tensor's shape, from the header alone (no weights read)."""
    with open(path, "rb") as f:
        header, _ = _header(f)
    return {name: info["shape"] for name, info in header.items()}
