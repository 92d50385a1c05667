"""How many threads FAISS uses while an index is built or caught up, and setting them
for the length of that work only.

FAISS adds a large batch to an HNSW graph in parallel (the points of one level at once,
OpenMP). A build is batch work, so it uses every core this process may run on, whatever
OMP_NUM_THREADS says: that variable is usually set to 1 to keep queries on one thread
(the best for one query at a time), and queries keep it. EMBKIT_BUILD_THREADS caps the
build (a machine shared with other work). OpenMP's thread count is per calling thread
(libgomp), so setting it here changes neither other threads' searches nor, once
restored, this thread's own.
"""

import os
from contextlib import contextmanager

import faiss

from ..errors import EmbkitError

ENV = "EMBKIT_BUILD_THREADS"
MAX_THREADS = 1024  # FAISS takes a C int; far more threads than cores only thrash


def build_threads() -> int:
    """Threads for a build: EMBKIT_BUILD_THREADS if set, else the cores this process may
    run on. EmbkitError if the variable is not a whole number from 1 to MAX_THREADS."""
    text = os.environ.get(ENV, "").strip()
    if text:
        # ASCII digits only: str.isdigit is true for '²', which int() refuses (a ValueError traceback)
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_THREADS:
            raise EmbkitError(f"{ENV}: must be a whole number from 1 to {MAX_THREADS}, got {text!r}")
        return int(text)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def building():
    """FAISS on build_threads() threads in this thread until the block ends, then back
    to the count this thread had (e.g. 1 for single-query searches)."""
    threads = build_threads()
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    try:
        yield threads
    finally:
        faiss.omp_set_num_threads(before)
