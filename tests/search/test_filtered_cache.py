"""The filter cache (store/filter_cache.py) keeps a filter's rows only for a state of the
database it can recognise again: never rows read inside a write transaction (they may
be rolled back), never rows whose SQL raced a change, never a result older than a
metadata merge."""

import numpy as np
import pytest

import embkit
from embkit.store import field_indexes
from embkit.store.filter_cache import FilterCache

WHERE = {"bucket": 3}


@pytest.fixture
def col(tmp_path, monkeypatch):
    monkeypatch.setattr(field_indexes, "INDEX_FROM", 10)
    col = embkit.create(tmp_path / "c", model=None, dim=4)
    col.add(ids=[f"d{i}" for i in range(100)], vectors=np.random.default_rng(0).random((100, 4)) + 0.1,
            metadatas=[{"bucket": i % 10} for i in range(100)])
    yield col
    col.close()


def bucket_rows(col) -> list[int]:
    return [r[0] for r in col._store._conn.execute(
        "SELECT rowid FROM docs WHERE json_extract(metadata, '$.bucket') = 3 ORDER BY rowid")]


def test_rows_are_sorted_read_only_and_reused(col):
    first = col._store.rowids(WHERE)
    assert first.tolist() == bucket_rows(col) and not first.flags.writeable
    assert col._store.rowids(WHERE) is first  # no change since: the same array
    assert col._store.rowids({"bucket": 3.5}).tolist() == []


class RolledBack(Exception):
    pass


def test_rows_read_inside_a_write_transaction_are_not_kept(col):
    """A filter read through the connection while a write is open on it sees the write's
    rows; after a rollback they must not come back from the cache."""
    store = col._store
    store.rowids(WHERE)  # cached (and the field index made: it cannot be while the write is open)
    with pytest.raises(RolledBack), store._write() as c:  # what a delete writes, then rolled back
        generation = store.generation + 1  # this thread's reads inside its write: on the write connection
        c.execute("UPDATE meta SET value = ? WHERE key = 'generation'", (str(generation),))
        c.execute("INSERT INTO changes SELECT ?, rowid FROM docs WHERE id = 'd3'", (generation,))
        c.execute("DELETE FROM docs WHERE id = 'd3'")
        assert store.rowids(WHERE).tolist() == bucket_rows(col) and 4 not in bucket_rows(col)  # d3: row 4
        raise RolledBack
    assert store.rowids(WHERE).tolist() == bucket_rows(col)
    assert "d3" in {h.id for h in col.search(vector=[1, 1, 1, 1], k=100, where=WHERE)}


def test_a_result_that_raced_a_change_is_not_kept():
    cache = FilterCache()
    key = cache.key(WHERE)
    rows = cache.put(key, (5, 1), (6, 1), 3, np.array([3, 1, 2]))
    assert rows.tolist() == [1, 2, 3] and not rows.flags.writeable
    assert cache.get(key, (5, 1)) is None and cache.get(key, (6, 1)) is None
    assert cache.put(key, None, None, 3, np.array([1])) is not None and cache.get(key, None) is None


def test_a_result_from_before_a_metadata_merge_is_never_refreshed():
    """A search whose SQL ran before a merge may store its rows after the merge emptied
    the cache: stamped below the merge, they are neither served nor brought up to date
    from the change log (which does not hold the merge's rows)."""
    cache = FilterCache()
    key = cache.key(WHERE)
    cache.put(key, (5, 1), (5, 1), 3, np.array([1, 2]))
    assert cache.outdated(key, (7, 1))[1].tolist() == [1, 2]  # own writes since: refreshable
    assert cache.outdated(key, (7, 2)) is None  # another connection committed: not
    cache.forget(10)  # a merge, at 10 changes
    cache.put(key, (5, 1), (5, 1), 3, np.array([1, 2]))  # a late arrival from before it
    assert cache.get(key, (12, 1)) is None and cache.outdated(key, (12, 1)) is None
    cache.put(key, (12, 1), (12, 1), 4, np.array([1, 9]))
    assert cache.outdated(key, (13, 1))[1].tolist() == [1, 9]


def test_key_ignores_key_order_but_not_types():
    assert FilterCache.key({"a": 1, "b": 2}) == FilterCache.key({"b": 2, "a": 1})
    assert len({FilterCache.key({"a": v}) for v in (1, 1.0, True, "1")}) == 4
    assert FilterCache.key({"a": float("nan")}) is None
