"""Filters on metadata fields use an index: the first filtered search of a field in a
big enough collection indexes it, later searches read only the matching rows, the
results are the same as a full scan's, and a search never waits for another writer."""

import sqlite3
import threading

import numpy as np
import pytest

import embkit
from embkit.store import field_indexes

N = 300


@pytest.fixture
def col(tmp_path, monkeypatch):
    monkeypatch.setattr(field_indexes, "INDEX_FROM", 100)
    col = embkit.create(tmp_path / "c", model=None, dim=4)
    col.add(ids=[f"d{i}" for i in range(N)], vectors=np.random.default_rng(0).random((N, 4)) + 0.1,
            metadatas=[{"bucket": i % 10, "kind": "odd" if i % 2 else "even", "flag": i % 3 == 0,
                        "nested": {"n": i}} for i in range(N)])
    yield col
    col.close()


def plan(col, where) -> str:
    sql, params = embkit.store.compile_where(where)
    narrow, narrow_params, _ = field_indexes.narrowing(where)
    rows = col._store._conn.execute(f"EXPLAIN QUERY PLAN SELECT rowid FROM docs WHERE {narrow}{sql}",
                                    narrow_params + params).fetchall()
    return " ".join(r[-1] for r in rows)


def indexes(col) -> set[str]:
    return field_indexes.indexed(col._store._conn)


def expected(where_fn) -> set[str]:
    return {f"d{i}" for i in range(N) if where_fn(i)}


CASES = [
    ({"bucket": 3}, lambda i: i % 10 == 3, "docs_field_bucket"),
    ({"bucket": {"$in": [1, 2]}}, lambda i: i % 10 in (1, 2), "docs_field_bucket"),
    ({"nested.n": {"$gte": 290}}, lambda i: i >= 290, "docs_field_nested__n"),
    ({"$and": [{"kind": "odd"}, {"bucket": 5}]}, lambda i: i % 10 == 5, "docs_field_bucket"),
]


@pytest.mark.parametrize("where, want, index", CASES)
def test_a_filtered_search_indexes_the_field_and_uses_it(col, where, want, index):
    assert indexes(col) == set()
    hits = col.search(vector=[1, 1, 1, 1], k=N, where=where)
    assert {h.id for h in hits} == expected(want)
    assert index in indexes(col)
    assert f"USING INDEX {index}" in plan(col, where)
    assert {h.id for h in col.search(vector=[1, 1, 1, 1], k=N, where=where)} == expected(want)


def test_conditions_an_index_cannot_answer_still_filter_exactly(col):
    for where, want in [({"flag": True}, lambda i: i % 3 == 0), ({"bucket": {"$ne": 3}}, lambda i: i % 10 != 3),
                        ({"$or": [{"bucket": 1}, {"bucket": 2}]}, lambda i: i % 10 in (1, 2)),
                        ({"bucket": "3"}, lambda i: False)]:
        assert {h.id for h in col.search(vector=[1, 1, 1, 1], k=N, where=where)} == expected(want), where


def test_small_collections_and_read_only_stores_are_not_indexed(tmp_path, col, monkeypatch):
    monkeypatch.setattr(field_indexes, "INDEX_FROM", N + 1)
    col.search(vector=[1, 1, 1, 1], k=3, where={"bucket": 3})
    assert indexes(col) == set()
    monkeypatch.setattr(field_indexes, "INDEX_FROM", 1)
    col._store.read_only = True  # as a read-only mount opens it: reads work, nothing is written
    assert len(col.search(vector=[1, 1, 1, 1], k=N, where={"bucket": 3})) == N // 10
    assert indexes(col) == set()


def test_a_search_does_not_wait_for_another_writer(col):
    other = sqlite3.connect(col.path / "embkit.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process mid-write holds the lock
    found: list = []
    try:
        worker = threading.Thread(target=lambda: found.append(col.search(vector=[1, 1, 1, 1], k=N,
                                                                          where={"bucket": 3})))
        worker.start()
        worker.join(timeout=20)  # waiting for the lock would take the whole 30 s busy timeout
        assert not worker.is_alive() and {h.id for h in found[0]} == expected(lambda i: i % 10 == 3)
        assert indexes(col) == set()  # left for a later search
    finally:
        other.execute("ROLLBACK")
        other.close()
    col.search(vector=[1, 1, 1, 1], k=1, where={"bucket": 3})
    assert indexes(col) == {"docs_field_bucket"}


def test_a_failed_index_creation_never_aborts_a_read_in_progress(col, monkeypatch):
    """CI found searches failing with "abort due to ROLLBACK": the index was made on the
    connection other threads read through, and a schema change rolled back there aborts
    their reads. It is made on a connection of its own now."""
    def create_then_fail(c, field):
        c.execute(f'CREATE INDEX "{field_indexes.index_name(field)}" ON docs (rowid, metadata)')
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(field_indexes, "create", create_then_fail)
    reading = col._store._conn.execute("SELECT rowid FROM docs")
    reading.fetchone()  # another thread's search, half way through its rows
    assert len(col._store.rowids({"bucket": 3})) == N // 10
    assert len(reading.fetchall()) == N - 1
    assert indexes(col) == set()
