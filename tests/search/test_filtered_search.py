"""Filtered dense search equals brute force over the rows the filter matches (ids exact,
scores within 1e-5) on flat and HNSW indexes, for selective and broad filters, when
the rows' vectors are read from the index's memory and the filter's rows from the
filter cache; and what the cache holds never outlives a change: after an add, an
upsert, a delete, a metadata merge or another connection's write, the next filtered
search sees it."""

import numpy as np
import pytest

import embkit
from embkit.search import dense
from embkit.store import field_indexes

N, DIM, K = 2000, 16, 10
SPECS = ["flat", "hnsw:M=16,efc=100"]
WHERES = {
    "selective": {"bucket": 7},  # 1%
    "in": {"bucket": {"$in": [3, 50, 99]}},  # 3%
    "broad": {"half": 1},  # 50%
    "range": {"n": {"$gte": 600}},  # 70%
    "and": {"$and": [{"half": 0}, {"n": {"$lt": 900}}]},
    "nothing": {"bucket": 1000},
}


def meta(i: int) -> dict:
    return {"bucket": i % 100, "half": i % 2, "n": i}


def made(path, spec: str):
    col = embkit.create(path, model=None, dim=DIM)
    vectors = np.random.default_rng(0).normal(size=(N, DIM)).astype(np.float32)
    col.add(ids=[f"d{i}" for i in range(N)], vectors=vectors, metadatas=[meta(i) for i in range(N)])
    col.build_index(spec)
    return col


@pytest.fixture(scope="module", params=SPECS)
def shared(request, tmp_path_factory):
    """A collection per index kind that the tests reading it share (they write nothing)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(field_indexes, "INDEX_FROM", 100)  # filters go through field indexes, as at scale
        col = made(tmp_path_factory.mktemp("shared") / "c", request.param)
        yield col
        col.close()


@pytest.fixture(params=SPECS)
def col(request, tmp_path, monkeypatch):
    """A collection of its own, for a test that writes."""
    monkeypatch.setattr(field_indexes, "INDEX_FROM", 100)
    col = made(tmp_path / "c", request.param)
    yield col
    col.close()


def brute_force(col, where: dict, query: np.ndarray, k: int = K) -> tuple[list[str], np.ndarray]:
    """Top k by exhaustive scoring, in float64, of every stored row the filter matches
    (read from the store, not through the filter cache), ties by row id."""
    rowids, vectors = col._store.vectors("text")
    records = col._store.by_rowids(rowids.tolist())
    rows = [(r, records[r].id, float(v.astype(np.float64) @ query))
            for r, v in zip(rowids.tolist(), vectors) if _matches(records[r].metadata, where)]
    rows.sort(key=lambda row: (-row[2], row[0]))
    return [row[1] for row in rows[:k]], np.array([row[2] for row in rows[:k]])


def _matches(metadata: dict, where: dict) -> bool:
    """The test's own reading of the few operators used here."""
    for field, condition in where.items():
        if field == "$and":
            if not all(_matches(metadata, part) for part in condition):
                return False
            continue
        value = metadata.get(field)
        if isinstance(condition, dict):
            (op, arg), = condition.items()
            ok = value in arg if op == "$in" else value >= arg if op == "$gte" else value < arg  # $lt
        else:
            ok = value == condition
        if not ok:
            return False
    return True


def check(col, where: dict, query: np.ndarray) -> None:
    hits = col.search(vector=query, k=K, where=where)
    ids, scores = brute_force(col, where, query / np.linalg.norm(query))
    assert [h.id for h in hits] == ids, where
    np.testing.assert_allclose([h.score for h in hits], scores, atol=1e-5)


@pytest.mark.parametrize("name", sorted(WHERES))
def test_filtered_search_equals_brute_force(shared, name):
    queries = np.random.default_rng(1).normal(size=(5, DIM)).astype(np.float32)
    for query in queries:
        check(shared, WHERES[name], query)
    assert shared.search(vector=queries[0], k=K, where={"bucket": 1000}) == []


def test_broad_filter_through_the_index_selector(shared, monkeypatch):
    """Filters too broad to score exactly search the index restricted to their rows:
    exact on flat, recall >= 0.99 on HNSW (its beam widened by 1/selectivity)."""
    monkeypatch.setattr(dense, "EXACT_FILTER_LIMIT", 0)
    monkeypatch.setattr(dense, "EXACT_FILTER_SHARE", 0.0)
    found = wanted = 0
    for query in np.random.default_rng(2).normal(size=(20, DIM)).astype(np.float32):
        for where in (WHERES["broad"], WHERES["range"]):
            hits = [h.id for h in shared.search(vector=query, k=K, where=where)]
            ids, _ = brute_force(shared, where, query / np.linalg.norm(query))
            if shared.info()["index"]["kind"] == "flat":
                assert hits == ids
            found, wanted = found + len(set(hits) & set(ids)), wanted + len(ids)
    assert found / wanted >= 0.99


def test_the_next_filtered_search_sees_every_change(col, tmp_path):
    """Adds, upserts, deletes and metadata merges, in a seeded random order: after each,
    the filter's rows equal a fresh SQL reading and the hits equal brute force."""
    rng = np.random.default_rng(3)
    where, query = {"bucket": 7}, rng.normal(size=DIM).astype(np.float32)
    check(col, where, query)  # the filter's rows are cached from here on
    next_id = N
    for step in range(24):
        op = ("add", "upsert", "delete", "merge")[step % 4]
        if op == "add":  # a new row in the bucket, close to the query
            col.add(ids=[f"d{next_id}"], vectors=[query + rng.normal(scale=0.1, size=DIM)], metadatas=[meta(7)])
            next_id += 1
        elif op == "upsert":  # a row moved into the bucket, another out of it
            best = col.search(vector=query, k=1, where=where)[0].id
            ids = [next(f"d{i}" for i in rng.integers(N, size=5) if f"d{i}" != best), best]
            col.upsert(ids=ids, vectors=rng.normal(size=(2, DIM)), metadatas=[meta(7), meta(8)])
        elif op == "delete":
            col.delete([col.search(vector=query, k=1, where=where)[0].id])
        else:  # metadata only: no generation, no change log (the cache must drop what it holds)
            col.merge_metadata({f"d{rng.integers(N)}": {"bucket": 7}})
        assert col._store.rowids(where).tolist() == fresh_rowids(col, where), (step, op)
        check(col, where, query)


def test_another_connections_write_is_seen(col):
    where, query = {"bucket": 7}, np.ones(DIM, np.float32)
    check(col, where, query)
    other = embkit.open(col.path)  # another connection to the file, as another process has
    try:
        other.add(ids=["new"], vectors=[query], metadatas=[meta(7)])
        other.merge_metadata({"d7": {"bucket": 8}})
    finally:
        other.close()
    hits = [h.id for h in col.search(vector=query, k=N, where=where)]
    assert hits[0] == "new" and "d7" not in hits
    check(col, where, query)


def test_duplicates_rank_by_row_id_whatever_order_the_filter_index_gives(tmp_path, monkeypatch):
    """Bug: a filter answered by a field index hands its rows over in the index's order
    (by value, then row id), and the exact search read their vectors 500 at a time in
    that order, so of two identical documents the later-added could come first when
    more than 500 rows matched. Ties go by row id, as brute force orders them."""
    monkeypatch.setattr(field_indexes, "INDEX_FROM", 100)
    n = 10_000
    col = embkit.create(tmp_path / "c", model=None, dim=4, metric="dot")
    vectors = np.zeros((n, 4), np.float32)
    vectors[:, 0], vectors[:, 1] = 1, np.arange(n) % 7  # small integers: equal vectors score exactly alike
    vectors[55] = vectors[1000] = [1, 0, 0, 9]  # twins: d55 in bucket 55, d1000 (added later) in bucket 0
    col.add(ids=[f"d{i}" for i in range(n)], vectors=vectors, metadatas=[{"bucket": i % 1000} for i in range(n)])
    col.build_index("hnsw:M=16,efc=40")
    where = {"bucket": {"$in": list(range(60))}}  # 600 rows, listed by the field index bucket by bucket
    hits = col.search(vector=[0, 0, 0, 1], k=2, where=where)
    assert [h.id for h in hits] == ["d55", "d1000"] and hits[0].score == hits[1].score == 9
    col.close()


def fresh_rowids(col, where: dict) -> list[int]:
    sql, params = embkit.store.compile_where(where)
    return [r[0] for r in col._store._conn.execute(f"SELECT rowid FROM docs WHERE {sql} ORDER BY rowid", params)]


def test_the_index_holds_the_stores_vectors_it_scores_from(col):
    """The rows of a filter are scored from the index's memory (flat, HNSW): exactly the
    store's float32 vectors, also after a write and after reopening (a saved HNSW graph
    gets its vectors back from the store)."""
    def same(col):
        rowids, vectors = col._store.vectors("text")
        found, labels, matrix = col._index.current().held_rows(rowids[::-1])
        assert found.tolist() == rowids[::-1].tolist() and np.array_equal(matrix[labels], vectors[::-1])

    same(col)
    col.upsert(ids=["d3", "new"], vectors=np.ones((2, DIM)), metadatas=[meta(3), meta(7)])
    col.delete(["d4"])
    same(col)
    path = col.path
    col.close()
    reopened = embkit.open(path)
    try:
        same(reopened)
        found, _, _ = reopened._index.current().held_rows(np.array([5, 6, 10**9, -1]))
        assert found.tolist() == [6]  # row 5 (d4) was deleted
    finally:
        reopened.close()


@pytest.mark.parametrize("spec", SPECS)
def test_a_few_rows_removed_through_the_label_map_are_hidden_everywhere(spec):
    """A write's few rows are found through the row id -> label map (not by scanning
    every label): the count, the search and the held rows all lose exactly them."""
    from embkit.index import make_index
    from embkit.index.spec import parse_spec

    index = make_index(parse_spec(spec), DIM, "cosine")
    vectors = np.random.default_rng(4).normal(size=(500, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rowids = np.arange(10, 1010, 2)
    index.add(rowids, vectors)
    index.held_rows(rowids[:1])  # the map is built
    assert index.remove([12, 12, 14, 999_999, 11]) == 2  # twice named, unknown, never added: counted once or not
    assert index.remove([12]) == 0 and index.ntotal == 498
    index.add([12], vectors[1:2])  # back, under a new label
    found, labels, matrix = index.held_rows(np.array([12, 14, 16]))
    assert found.tolist() == [12, 16] and np.array_equal(matrix[labels], vectors[[1, 3]])
    hits, _ = index.search(vectors[2], 3)
    assert 14 not in hits[0].tolist() and index.remove(rowids) == 499
