"""Which filters' int8 codes (filter_codes.py) an index keeps, and when they stop holding.

A filter's row array comes back as the very same read-only object from the store's
filter cache until the database changes, so the array itself is the key (held here, so
its id is not reused while kept). An entry holds for one state of the index: its `live`
array (replaced by every add) and its count of live entries (lowered by every remove,
in place). Codes are made the second time an array is seen in one state: a filter asked
once, or once after every write, is scored directly as before.

The compiled pass (numba's import and the kernel's load: ~1 s, ~8 s on a busy machine)
is loaded in a background thread the first time a big filter is seen, so it is mostly
there when the filter comes again; until it is, filters are scored directly (no search
waits for it), and without numba always.
"""

import threading
import weakref
from collections import OrderedDict

import numpy as np

from .filter_codes import METRICS, MIN_ROWS, FilterCodes, encode, top_k

MAX_ENTRIES = 8  # row arrays remembered per index (seen once, or encoded)
MAX_BYTES = 64 << 20  # codes kept per index

_lock = threading.Lock()  # searches in several threads share an index
_by_index: "weakref.WeakKeyDictionary[object, OrderedDict]" = weakref.WeakKeyDictionary()
_kernel_loaded = threading.Event()
_kernel_tried = threading.Event()  # set when the load ended, loaded or failed (so no wait is endless)
_kernel_asked = False


def search(index, query: np.ndarray, allow: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(row ids, scores) of the best `k` of `allow`'s rows live in `index`, exactly as
    brute force over them, from the filter's codes; None when codes do not apply (few
    rows, a writable array, l2, an index without float32 vectors, several queries, or
    the first time this array is seen in this state): score directly then."""
    if (
        not hasattr(index, "held_rows")
        or metric not in METRICS
        or len(allow) < MIN_ROWS
        or len(allow) * index.dim > MAX_BYTES
        or allow.flags.writeable
        or len(query) != 1
    ):
        return None
    codes = _codes(index, allow)
    if codes is None:
        return None
    held = index.held_rows(np.empty(0, np.int64))  # the current view of its vectors
    return None if held is None else top_k(codes, query, held[2], k, metric)


def _codes(index, allow: np.ndarray) -> FilterCodes | None:
    state = (index.live, index.ntotal)
    with _lock:
        entries = _by_index.setdefault(index, OrderedDict())
        for key in [key for key, e in entries.items() if e[1] is not state[0] or e[2] != state[1]]:
            del entries[key]  # the index changed since: never valid again
        entry = entries.get(id(allow))
        if entry is None or entry[0] is not allow:
            entries[id(allow)] = [allow, *state, None]
            _trim(entries)
            first = True
        else:
            first = False
            entries.move_to_end(id(allow))
            if entry[3] is not None:
                return entry[3]
    if not load_kernel(wait=0) or first:
        return None
    held = index.held_rows(allow)
    if held is None:
        return None
    # live labels only: a remove running in another thread has marked `live` (and then lowered
    # the count `state` holds) before its row-to-label map forgets the rows, so codes kept for
    # that state would otherwise hold the removed rows for good
    rowids, labels, matrix = held
    keep = index.live[labels]
    codes = encode(rowids[keep], labels[keep], matrix)
    with _lock:
        if entries.get(id(allow)) is entry:
            entry[3] = codes
            _trim(entries)
    return codes


def _trim(entries: OrderedDict) -> None:
    """Forget the least recently used past MAX_ENTRIES or MAX_BYTES of codes."""
    while len(entries) > MAX_ENTRIES or sum(e[3].nbytes for e in entries.values() if e[3] is not None) > MAX_BYTES:
        entries.popitem(last=False)


def load_kernel(wait: float | None = 0) -> bool:
    """Whether the compiled pass is loaded; starts loading it in a background thread if
    nobody did, and waits up to `wait` seconds for it (None: until it is done)."""
    global _kernel_asked
    with _lock:
        start, _kernel_asked = not _kernel_asked, True
    if start:
        threading.Thread(target=_load, name="embkit-int8-kernel", daemon=True).start()
    if wait != 0:
        _kernel_tried.wait(wait)
    return _kernel_loaded.is_set()


def _load() -> None:
    try:
        _compile()
        _kernel_loaded.set()
    except Exception:  # noqa: BLE001 - no numba (or it fails): filters are scored directly, as before
        pass
    finally:
        _kernel_tried.set()


def _compile() -> None:
    """Load (or compile) the pass with the types of every later call."""
    from .filter_codes import LANES, ROWS
    from .int8_scores import candidate_rows

    n = 65  # a small k (1) and a big one (65)
    codes, slack = np.zeros((-(-n // ROWS) * ROWS, LANES), np.int8), np.zeros(n)
    for k in (1, n):
        candidate_rows(codes, np.zeros(LANES), np.ones(LANES, np.float32), slack, slack, k)
