"""Two filtered searches at once on a freshly loaded index: the row id -> label map is
built by the first, and the other must never read it half filled (the review found
rows of a filter silently dropped: a search returned [] in 4 of 15 trials)."""

import threading
import time

import numpy as np

from embkit.index import make_index
from embkit.index.spec import IndexSpec

N, DIM = 200_000, 8


def test_concurrent_first_lookups_see_every_row():
    index = make_index(IndexSpec("flat", {}), DIM, "cosine")
    index.add(np.arange(1, N + 1, dtype=np.int64), np.random.default_rng(0).normal(size=(N, DIM)).astype(np.float32))
    allow = np.arange(1, N + 1, 50, dtype=np.int64)  # 4,000 rows, as a filter's
    for trial in range(40):
        index._labels._of = None  # as after a load: the map is rebuilt on first use
        found = [0, 0]

        def run(i, trial=trial, found=found):
            if i:
                time.sleep(0.0002 * (trial % 10))
            found[i] = len(index.held_rows(allow)[0])

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert found == [len(allow)] * 2, f"trial {trial}"
