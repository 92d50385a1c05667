"""Index spec strings: `kind[:key=value,...]`, e.g. `hnsw:M=16,efc=200,ef=128`.

Each kind names its parameters, their defaults and limits; an unknown kind, key or
value out of range is an error naming it.
"""

import math
from dataclasses import dataclass, field

from ..errors import EmbkitError

# kind -> {param: (default, minimum, maximum)}; search-time params can also be given per query.
# HNSW: M=16 (Chroma's and hnswlib's) and ef=128; before issue 21 M=32, ef=64. The graph file
# holds 2*M int32 links a node at level 0, so M=16 halves it (272 -> 144 bytes a document,
# 5% of a 384-d collection's disk); a wider beam buys the recall back. Measured at 100k
# (growth benchmark's static-model vectors, 200 queries, recall@10 against brute force):
# M=32,ef=64 0.972 at p50 0.74-0.88 ms; M=16,ef=128 0.984 at 0.84-0.99 ms (ef=96: 0.974).
# A saved index keeps the parameters it was built with (its manifest), old ones included.
PARAMS: dict[str, dict[str, tuple[int, int, int]]] = {
    "flat": {},
    "hnsw": {"M": (16, 4, 256), "efc": (200, 8, 4096), "ef": (128, 1, 32768)},
    "ivf": {"nlist": (1024, 1, 1 << 20), "nprobe": (16, 1, 1 << 20)},
    "ivfpq": {"nlist": (1024, 1, 1 << 20), "m": (48, 1, 4096), "nbits": (8, 4, 12), "nprobe": (16, 1, 1 << 20)},
    "sq8": {},
    "binary": {},
}
SEARCH_PARAMS = {"hnsw": ("ef",), "ivf": ("nprobe",), "ivfpq": ("nprobe",)}
QUANTIZED = {"sq8", "ivfpq", "binary"}  # these rescore with the float32 vectors
KINDS = tuple(PARAMS) + ("auto",)


@dataclass(frozen=True)
class IndexSpec:
    """A parsed spec: the kind and every parameter, defaults filled in."""

    kind: str
    params: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        if not self.params:
            return self.kind
        return self.kind + ":" + ",".join(f"{k}={v}" for k, v in self.params.items())

    @property
    def quantized(self) -> bool:
        return self.kind in QUANTIZED


def parse_spec(text: str) -> IndexSpec:
    """`"ivfpq:nlist=256,m=48"` -> IndexSpec("ivfpq", {nlist: 256, m: 48, nbits: 8, nprobe: 16})."""
    if not isinstance(text, str) or not text.strip():
        raise EmbkitError(f"spec: expected a string such as 'hnsw:M=32,ef=64' (kinds: {', '.join(KINDS)})")
    kind, _, rest = text.strip().partition(":")
    kind = kind.strip().lower()
    if kind not in PARAMS and kind != "auto":
        raise EmbkitError(f"spec: unknown index kind {kind!r} (kinds: {', '.join(KINDS)})")
    allowed = PARAMS.get(kind, {})
    params = {name: default for name, (default, _, _) in allowed.items()}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip()
        if key not in allowed:
            names = ", ".join(allowed) or "none"
            raise EmbkitError(f"spec: {kind} has no parameter {key!r} (parameters: {names})")
        params[key] = check_param(kind, key, value.strip() if eq else "")
    return IndexSpec(kind, params)


def check_param(kind: str, key: str, value, field: str = "spec") -> int:
    """An integer within the parameter's limits, or an error naming both; `field` is
    what the message starts with (the spec, or the per-query parameter)."""
    _, low, high = PARAMS[kind][key]
    if isinstance(value, bool):
        raise EmbkitError(f"{field}: {kind} parameter {key} must be an integer, got {value!r}")
    try:
        number = int(value)
        if isinstance(value, float) and value != number:
            raise ValueError
    except (TypeError, ValueError):
        raise EmbkitError(f"{field}: {kind} parameter {key} must be an integer, got {value!r}") from None
    if not low <= number <= high:
        raise EmbkitError(f"{field}: {kind} parameter {key}={number} is outside {low}..{high}")
    return number


def bytes_per_vector(spec: IndexSpec, dim: int) -> float:
    """Approximate memory per vector, for choosing under a memory budget."""
    p = spec.params
    return {
        "flat": 4 * dim,
        "hnsw": 4 * dim + 8 * p.get("M", PARAMS["hnsw"]["M"][0]) + 8,
        "ivf": 4 * dim + 8,
        "ivfpq": p.get("m", 48) * p.get("nbits", 8) / 8 + 8,
        "sq8": dim + 8,
        "binary": dim / 8 + 8,
    }[spec.kind]


AUTO_HNSW_ABOVE = 50_000


def resolve_auto(count: int, dim: int, memory_budget: int | None = None) -> IndexSpec:
    """`auto`: flat below ~50k vectors, HNSW above; under a memory budget, the most
    faithful kind that fits (flat, sq8, ivfpq, binary)."""
    preferred = parse_spec("flat" if count < AUTO_HNSW_ABOVE else "hnsw")
    if memory_budget is None:
        return preferred
    candidates = [preferred, parse_spec("sq8"), _ivfpq_for(dim) if count >= 256 else None]
    candidates += [parse_spec("binary")] if dim % 8 == 0 else []
    for spec in candidates:
        if spec is not None and bytes_per_vector(spec, dim) * max(count, 1) <= memory_budget:
            return spec
    smallest = candidates[-1] or candidates[-2]
    need = bytes_per_vector(smallest, dim) * count
    raise EmbkitError(f"memory_budget: {memory_budget} bytes is below even a {smallest.kind} index "
                      f"of {count} vectors (~{int(need)} bytes)")


def _ivfpq_for(dim: int) -> IndexSpec | None:
    """An ivfpq spec between sq8 and binary in size: one code byte per 4 dimensions
    (16x smaller than float32), m dividing `dim`."""
    for m in (dim // 4, dim // 2, dim):
        if m >= 1 and dim % m == 0:
            return parse_spec(f"ivfpq:m={m}")
    return None


def parse_size(text: str | int | None) -> int | None:
    """'512MB', '2G', '1000000' -> bytes."""
    if text is None or (isinstance(text, int) and not isinstance(text, bool) and text > 0):
        return text
    if not isinstance(text, str):
        raise EmbkitError(f"memory_budget: expected a positive number of bytes or a size such as 512MB, got {text!r}")
    units = {"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "M": 1 << 20, "MB": 1 << 20, "G": 1 << 30, "GB": 1 << 30}
    raw = text.strip().upper().replace("IB", "B")
    number = raw.rstrip("KMGB")
    unit = raw[len(number):]
    try:
        value = float(number)
    except ValueError:
        value = -1
    # nan, inf and 1e400 parse as floats too: int() of them was a traceback
    if unit not in units or not math.isfinite(value) or value * units[unit] < 1:
        raise EmbkitError(f"memory_budget: cannot read {text!r} (use e.g. 512MB or 2GB)")
    return int(value * units[unit])
