"""A warm plain search (search/plain.py) is one SQLite statement after the store's state
(hit_rows.py: none when its hits' rows are kept from an earlier search at that state): its rows, with the store's
generation (is the index caught up?) and the reembed map read in the same statement; a
write by another process or handle since the index caught up makes it catch up and search
again, so that write is seen; a switch made by another handle meanwhile is still followed."""

import subprocess
import sys

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
    conn = col._store._read()  # this thread's read connection (store/sqlite_connections.py)
    conn.set_trace_callback(seen.append)
    try:
        search()
    finally:
        conn.set_trace_callback(None)
    return seen


def test_a_warm_plain_search_is_one_statement(tmp_path):
    col, x = _collection(tmp_path / "c")
    col.search(vector=x[0], k=K)  # warm: the index loaded, the reembed map read
    seen = _statements(col, lambda: col.search(vector=x[1], k=K))
    # the store's state (hit_rows), then the rows; no spaces (a vector is not routed to another tower)
    assert len(seen) == 2 and seen[0] == "PRAGMA data_version", seen
    assert "JOIN docs" in seen[1] and "'generation'" in seen[1] and "'superseded'" in seen[1], seen
    again = _statements(col, lambda: col.search(vector=x[1], k=K))
    assert again == ["PRAGMA data_version"]  # nothing written since: the rows kept (hit_rows)
    col.close()


ANOTHER_PROCESS = """
import sys
import numpy as np
import embkit
col = embkit.open(sys.argv[1])
if sys.argv[2] == "add":
    col.add(ids=["new"], vectors=np.full((1, int(sys.argv[3])), 1.0, dtype=np.float32))
else:
    col.delete(ids=[sys.argv[3]])
col.close()
"""


def _in_another_process(*args) -> None:
    subprocess.run([sys.executable, "-c", ANOTHER_PROCESS, *map(str, args)], check=True)


def test_a_write_by_another_process_is_seen_by_the_next_warm_search(tmp_path):
    col, x = _collection(tmp_path / "c")
    ones = np.ones(DIM, dtype=np.float32)
    first = [h.id for h in col.search(vector=ones, k=K)]
    assert "new" not in first
    _in_another_process(tmp_path / "c", "add", DIM)
    hits = col.search(vector=ones, k=K)
    assert hits[0].id == "new" and abs(hits[0].score - 1.0) < 1e-5  # the added row, not the stale index
    assert [h.id for h in hits[1:]] == first[:K - 1]
    _in_another_process(tmp_path / "c", "delete", first[0])
    assert [h.id for h in col.search(vector=ones, k=K)] == ["new"] + first[1:K]
    seen = _statements(col, lambda: col.search(vector=x[1], k=K))
    assert len(seen) == 2 and seen[0] == "PRAGMA data_version", seen  # caught up: back to one row statement
    col.close()


def test_writes_through_this_handle_and_another_are_seen(tmp_path):
    col, x = _collection(tmp_path / "c")
    other = embkit.open(tmp_path / "c")  # its own connection: commits appear as another process's
    assert col.search(vector=x[3], k=1)[0].id == "d3"
    other.delete(ids=["d3"])
    assert "d3" not in [h.id for h in col.search(vector=x[3], k=K)]
    col.add(ids=["mine"], vectors=x[3:4])
    assert col.search(vector=x[3], k=1)[0].id == "mine"
    other.add(ids=["theirs"], vectors=-x[4:5])
    assert col.search(vector=-x[4], k=1)[0].id == "theirs"
    assert len(col.search(vector=x[0], k=N + 600)) == N + 1  # past what one row statement reads: checked first
    other.close(), col.close()


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
