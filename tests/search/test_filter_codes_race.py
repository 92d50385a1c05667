"""Int8 filter codes (search/filter_codes_cache.py) made while another thread removes
rows from the index (a search catching the index up after a delete, as the server does
while other searches run): the codes must not keep a removed row. The interleaving is
made exact by pausing the removing thread at a chosen line of FaissIndex.remove (its
locked half, `_remove_locked`)."""

import sys
import threading

import numpy as np

from embkit.index import faiss_base, make_index
from embkit.search import filter_codes_cache

from thread_pause import paused_at

N, DIM = 3000, 8


def test_codes_made_during_a_remove_leave_the_removed_row_out():
    """The codes were made after the index's live count had dropped (the state they are
    kept for) but before its row-to-label map forgot the row: every later search of the
    filter returned the deleted row 7 as its best hit."""
    assert filter_codes_cache.load_kernel(wait=None)
    vectors = np.random.default_rng(0).normal(size=(N, DIM)).astype(np.float32)
    query = np.ones((1, DIM), np.float32)
    vectors[7] = 10  # the best hit, until removed
    index = make_index("flat", DIM, "dot")
    index.add(np.arange(N), vectors)
    allow = np.arange(N)
    allow.flags.writeable = False  # as the store's filter cache hands it out
    reached, go = threading.Event(), threading.Event()

    def remove():
        sys.settrace(paused_at(faiss_base.__file__, "_remove_locked", ["self._labels.removed("], [reached], [go]))
        try:
            index.remove(np.array([7]))
        finally:
            sys.settrace(None)

    thread = threading.Thread(target=remove)
    thread.start()
    assert reached.wait(10)
    for _ in range(2):  # seen once, then coded: while the remove is half done
        filter_codes_cache.search(index, query, allow, 3, "dot")
    go.set()
    thread.join(10)
    assert not thread.is_alive() and index.ntotal == N - 1
    ids, _ = filter_codes_cache.search(index, query, allow, 3, "dot")
    want = np.lexsort((np.arange(N), -(vectors @ query[0])))
    assert ids.tolist() == [r for r in want.tolist() if r != 7][:3]
