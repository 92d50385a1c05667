"""A warm plain search (search/plain.py) asks SQLite once whether anything changed (the
index's catch-up); the reembed map it needs comes with its rows, in the same statement,
and a switch made by another handle meanwhile is still followed."""

import numpy as np

import embkit
from embkit.store import Space

N, DIM, K = 50, 8, 5


def _collection(location):
    x = np.random.default_rng(0).normal(size=(N, DIM)).astype(np.float32)
    col = embkit.create(location, model=None, dim=DIM)
    col.add(ids=[f"d{i}" for i in range(N)], vectors=x)
    return col, x


def _statements(col, search) -> list[str]:
    seen: list[str] = []
    col._store._conn.set_trace_callback(seen.append)
    try:
        search()
    finally:
        col._store._conn.set_trace_callback(None)
    return seen


def test_a_warm_plain_search_checks_freshness_once(tmp_path):
    col, x = _collection(tmp_path / "c")
    col.search(vector=x[0], k=K)  # warm: the index loaded, the reembed map read
    seen = _statements(col, lambda: col.search(vector=x[1], k=K))
    assert sum("data_version" in s for s in seen) == 1, seen
    assert not any("FROM spaces" in s for s in seen), seen  # a vector is not routed to another tower's space
    assert len(seen) == 2, seen  # the freshness check, then the rows with the map
    col.close()


def test_a_switch_by_another_handle_is_followed_by_a_warm_plain_search(tmp_path):
    """The space a warm handle searches is replaced (as `reembed` does: a new space, an
    alias, the old one marked superseded) through another handle: the next plain search
    answers from the new space, as a fresh handle does."""
    col, x = _collection(tmp_path / "c")
    before = [h.id for h in col.search(vector=x[0], k=K)]
    assert before[0] == "d0"
    other = embkit.open(tmp_path / "c")
    store, old = other._store, other.space.name
    store.start_reembed(old, Space("text_v2", other.space.model, DIM, other.space.metric, other.space.normalized))
    rows = store.missing_vectors(old, "text_v2")
    records = store.by_rowids([rowid for rowid, _ in rows])
    store.add_vectors("text_v2", rows, -x[[int(records[rowid].id[1:]) for rowid, _ in rows]])
    store.switch_space(old, old, "text_v2", lambda texts: None)
    after = [h.id for h in col.search(vector=x[0], k=K)]
    fresh = embkit.open(tmp_path / "c")
    assert after == [h.id for h in fresh.search(vector=x[0], k=K)]
    assert after != before and "d0" not in after  # the negated vectors: d0 is now the farthest
    fresh.close(), other.close(), col.close()
