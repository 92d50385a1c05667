"""Read a .safetensors file into numpy arrays without torch (the format is a JSON
header followed by raw little-endian tensors)."""

import json
import struct
from pathlib import Path

import numpy as np

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of the file as a float32 (or integer) numpy array, by name."""
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = data[start:end]
        if info["dtype"] == "BF16":  # bfloat16 is the top half of a float32
            halves = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
            array = halves.view(np.float32)
        elif info["dtype"] in _DTYPES:
            array = np.frombuffer(raw, dtype=_DTYPES[info["dtype"]])
        else:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        if array.dtype == np.float16:
            array = array.astype(np.float32)
        tensors[name] = array.reshape(info["shape"])
    return tensors


def tensor_shapes(path: Path) -> dict[str, list[int]]:
    """Each tensor's shape, from the header alone (no weights read)."""
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
    return {name: info["shape"] for name, info in header.items() if name != "__metadata__"}
