"""The search path's reads of the SQLite store: records whose metadata is decoded only
when read (store/lazy_record.py), and the meta table kept until the database changes
(store/meta_cache.py), including a change another handle makes."""

import json

import numpy as np

import embkit


def _vectors(n, seed=0):
    return np.random.default_rng(seed).standard_normal((n, 8)).astype(np.float32)


def test_search_records_read_as_by_rowids(tmp_path):
    col = embkit.create(tmp_path / "c", model=None, dim=8)
    metas = [{}, {"a": [1, 2], "b": {"c": None}}, {"parent": "x", "page": 3}]
    col.add(ids=["x", "y", "z"], vectors=_vectors(3), metadatas=metas, texts=["one", "two", "three"])
    store = col._store
    rowids = sorted(store.by_rowids(store.rowids()).keys())
    lazy, eager = store.search_records(rowids), store.by_rowids(rowids)
    assert sorted(lazy) == sorted(eager) == rowids
    assert all(r._metadata is None for r in lazy.values())  # nothing decoded until read
    for r in rowids:
        assert (lazy[r].id, lazy[r].text, lazy[r].rowid) == (eager[r].id, eager[r].text, eager[r].rowid)
        assert lazy[r].metadata == eager[r].metadata
    assert store.search_records([]) == {}
    col.close()


def test_search_rows_read_as_by_rowids(tmp_path):
    """The plain search's read: (id, text, metadata JSON as stored) by row id, a row
    asked twice or not stored read once or left out, more than one statement's worth too."""
    col = embkit.create(tmp_path / "c", model=None, dim=8)
    ids = [f"d{i}" for i in range(1200)]
    col.add(ids=ids[:600], vectors=_vectors(600), metadatas=[{"i": i} if i % 2 else {} for i in range(600)],
            texts=[f"t{i}" for i in range(600)])
    col.add(ids=ids[600:], vectors=_vectors(600, seed=1))  # no text
    store = col._store
    eager = store.by_rowids(store.rowids())
    rowids = sorted(eager)
    rows = store.search_rows([rowids[5], 10**9, rowids[1], rowids[5]])
    assert list(rows) == [rowids[5], rowids[1]]
    everything = store.search_rows(rowids[::-1])  # 1200 rows: three statements
    assert sorted(everything) == rowids and store.search_rows([]) == {}
    for r, (id_, text, raw) in everything.items():
        assert (id_, text, json.loads(raw)) == (eager[r].id, eager[r].text, eager[r].metadata)
    col.close()


def test_metadata_written_by_another_tool_reads_as_json_loads(tmp_path):
    """JSON with whitespace around it or escapes (not as embkit writes it) decodes as
    json.loads does; row ids asked twice or not stored are read once or left out."""
    col = embkit.create(tmp_path / "c", model=None, dim=8)
    col.add(ids=["a", "b", "c"], vectors=_vectors(3), metadatas=[{"k": 1}, {"k": 2}, {"k": 3}])
    store = col._store
    raws = ['  {"k": [1, 2.5, null]}\n', '{"\\u00e9t\\u00e9": {"x": -0.0, "y": 1e400}}', '{ }']
    with store._conn:
        for rowid, raw in zip((1, 2, 3), raws):
            store._conn.execute("UPDATE docs SET metadata = ? WHERE rowid = ?", (raw, rowid))
    lazy = store.search_records([3, 1, 99, 2, 1])
    assert sorted(lazy) == [1, 2, 3]
    assert [lazy[r].metadata for r in (1, 2, 3)] == [json.loads(raw) for raw in raws]
    assert lazy[2].metadata == {"été": {"x": -0.0, "y": float("inf")}}
    col.close()


def test_a_write_by_another_handle_is_seen_by_the_next_search(tmp_path):
    first = embkit.create(tmp_path / "c", model=None, dim=8)
    first.add(ids=["a", "b"], vectors=_vectors(2))
    query = _vectors(1, seed=5)[0]
    assert {h.id for h in first.search(vector=query, k=10)} == {"a", "b"}
    generation = first._store.generation
    other = embkit.open(tmp_path / "c")
    other.add(ids=["c"], vectors=_vectors(1, seed=9))
    other._store.set_meta("x", "y")
    assert first._store.generation == generation + 1  # read again: the stamp changed
    assert first._store.meta("x") == "y"
    assert {h.id for h in first.search(vector=query, k=10)} == {"a", "b", "c"}
    other.close()
    first.close()


def test_a_write_on_the_same_handle_is_seen(tmp_path):
    col = embkit.create(tmp_path / "c", model=None, dim=8)
    col.add(ids=["a"], vectors=_vectors(1))
    before = col._store.generation
    col.delete(["a"])
    assert col._store.generation == before + 1
    assert col.search(vector=_vectors(1)[0], k=5) == []
    col.close()


def test_space_state_follows_the_meta_table_and_gives_each_caller_its_own(tmp_path):
    """The reembed bookkeeping every search reads is parsed once per state of the meta
    table: a change by another handle is seen, and a caller changing what it got changes
    nothing for the next."""
    col = embkit.create(tmp_path / "c", model=None, dim=8)
    col.add(ids=["a"], vectors=_vectors(1))
    store = col._store
    empty = {"reembeds": {}, "space_aliases": {}, "superseded": {}}
    first = store.space_state()
    assert first == empty
    first["superseded"]["default"] = "x"
    first["reembeds"] = {"y": "z"}
    assert store.space_state() == empty
    other = embkit.open(tmp_path / "c")
    other._store.set_meta("superseded", json.dumps({"old": "default"}))
    assert store.space_state() == {**empty, "superseded": {"old": "default"}}
    assert store.space_state()["superseded"] is not store.space_state()["superseded"]
    other.close()
    col.close()


def test_search_rows_on_either_store(backend):
    """`search_rows` is part of the Store protocol (store/base.py): PostgreSQL's gives the
    metadata as JSON text too, which the plain search decodes as SQLite's; a row asked
    twice or not stored is read once or left out."""
    from embkit.store.lazy_record import metadata_of

    col = embkit.create(backend("c"), model=None, dim=8)
    metas = [{}, {"a": [1, 2.5, None], "b": {"c": "été"}}, {"parent": "x", "page": 3}]
    col.add(ids=["x", "y", "z"], vectors=_vectors(3), metadatas=metas, texts=["one", "deux", "three"])
    col.add(ids=["w"], vectors=_vectors(1))  # no text
    store = col._store
    eager = store.by_rowids(store.rowids())
    rowids = sorted(eager)
    rows = store.search_rows([rowids[2], 10**9, rowids[0], rowids[2]])
    assert sorted(rows) == sorted([rowids[2], rowids[0]])
    everything = store.search_rows(rowids)
    assert sorted(everything) == rowids and store.search_rows([]) == {}
    for r, (id_, text, raw) in everything.items():
        assert isinstance(raw, str)
        assert (id_, text, metadata_of(raw)) == (eager[r].id, eager[r].text, eager[r].metadata)
    col.close()
