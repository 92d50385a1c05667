"""A search whose rows another handle deletes or replaces between the index's answer
and the row read still returns k hits (search/vanished_rows.py): the plain path
(search/plain.py) and the general pipeline (dense, hybrid, a Matryoshka view, on
SQLite and PostgreSQL). The write is committed through a second handle inside the
store's row read, the moment the race needs."""

import numpy as np
import pytest

import embkit

N, DIM, K = 200, 8, 5


def _vectors():
    return np.random.default_rng(0).normal(size=(N, DIM)).astype(np.float32)


def _pair(location):
    """(a collection of N documents, a second handle on it)."""
    x = _vectors()
    col = embkit.create(location, model=None, dim=DIM)
    col.add(ids=[f"d{i}" for i in range(N)], vectors=x, texts=[f"apple text {i}" for i in range(N)])
    return col, embkit.open(location), x


def _write_during(store, read: str, write):
    """Run `write` once, just before the store's next `read` (search_rows / search_records)."""
    real = getattr(store, read)

    def racing(rowids):
        setattr(store, read, real)  # once
        write()
        return real(rowids)

    setattr(store, read, racing)


def test_plain_search_after_a_delete_between_index_and_rows(tmp_path):
    col, other, x = _pair(tmp_path / "c")
    before = [h.id for h in col.search(vector=x[0], k=K)]
    assert before[0] == "d0"
    _write_during(col._store, "search_rows", lambda: other.delete(ids=["d0"]))
    hits = col.search(vector=x[0], k=K)
    assert [h.id for h in hits][:K - 1] == before[1:]
    assert [h.id for h in hits] == [h.id for h in other.search(vector=x[0], k=K)]
    assert len(hits) == K and [h.dense_rank for h in hits] == [1, 2, 3, 4, 5]
    other.close(), col.close()


def test_plain_search_after_an_upsert_between_index_and_rows(tmp_path):
    """An upsert keeps the document's row id in the store (a new label in the index only):
    the row read finds it, and it stays among the hits at its rank."""
    col, other, x = _pair(tmp_path / "c")
    before = [h.id for h in col.search(vector=x[0], k=K)]
    _write_during(col._store, "search_rows", lambda: other.upsert(ids=[before[2]], vectors=x[[int(before[2][1:])]]))
    hits = col.search(vector=x[0], k=K)
    assert [h.id for h in hits] == before and [h.dense_rank for h in hits] == [1, 2, 3, 4, 5]
    other.close(), col.close()


def test_general_search_after_a_delete_between_index_and_rows(tmp_path):
    """Dense with `documents`, and keyword, take the pipeline (search/pipeline.py)."""
    col, other, x = _pair(tmp_path / "c")
    for options in ({"vector": x[0], "documents": True}, {"query": "apple 7", "mode": "keyword"}):
        before = [h.id for h in col.search(k=K, **options)]
        gone = before[0]
        _write_during(col._store, "search_records", lambda gone=gone: other.delete(ids=[gone]))
        hits = [h.id for h in col.search(k=K, **options)]
        assert len(hits) == K and gone not in hits and hits[:K - 1] == before[1:]
        assert hits == [h.id for h in other.search(k=K, **options)]
    other.close(), col.close()


def test_matryoshka_view_after_a_delete_between_index_and_rows(backend):
    """A `dims` search runs the pipeline over a FAISS view on either store (PostgreSQL's
    full-dimension search is one statement, which sees one snapshot)."""
    col, other, x = _pair(backend("c"))
    before = [h.id for h in col.search(vector=x[0], k=K, dims=4)]
    _write_during(col._store, "search_records", lambda: other.delete(ids=[before[0]]))
    hits = [h.id for h in col.search(vector=x[0], k=K, dims=4)]
    assert len(hits) == K and hits[:K - 1] == before[1:]
    assert hits == [h.id for h in other.search(vector=x[0], k=K, dims=4)]
    other.close(), col.close()


@pytest.mark.parametrize("path", ["plain", "general"])
def test_a_short_list_is_not_asked_again(tmp_path, path):
    """Fewer than k in the index (every row returned) and one gone: not asked again for
    the missing row. The plain path reads the store's generation with the rows: the delete
    moved it, so it catches up and searches once more (two rows), as the next search would."""
    col, other, x = _pair(tmp_path / "c")
    other.delete(ids=[f"d{i}" for i in range(3, N)])
    col.search(vector=x[0], k=K)  # caught up: three rows
    read = "search_rows" if path == "plain" else "search_records"
    options = {} if path == "plain" else {"documents": True}
    calls = []
    real = getattr(col._store, read)
    setattr(col._store, read, lambda rowids: calls.append(len(rowids)) or real(rowids))
    _write_during(col._store, read, lambda: other.delete(ids=["d0"]))
    hits = [h.id for h in col.search(vector=x[0], k=K, **options)]
    assert sorted(hits) == ["d1", "d2"] and calls == ([3, 2] if path == "plain" else [3])
    other.close(), col.close()


@pytest.mark.parametrize("path", ["plain", "general"])
def test_rows_always_vanishing_ask_again_twice(tmp_path, path):
    """Every search loses a row: the first search and two more (RETRIES), on either path,
    then the last answer (one short) is returned."""
    col, other, x = _pair(tmp_path / "c")
    read = "search_rows" if path == "plain" else "search_records"
    options = {} if path == "plain" else {"documents": True}
    real, searches = getattr(col._store, read), []

    def lossy(rowids):  # each index search is followed by one row read
        searches.append(1)
        found = real(rowids)
        found.pop(rowids[0], None)
        return found

    setattr(col._store, read, lossy)
    hits = col.search(vector=x[0], k=K, **options)
    assert len(searches) == 3 and "d0" not in [h.id for h in hits]
    assert len(hits) == (K - 1 if path == "plain" else K)  # the pipeline fetched 3k candidates
    other.close(), col.close()


def test_a_text_query_is_embedded_once_when_asked_again(tmp_path, minilm, monkeypatch):
    """The searches asked again reuse the query's vector: one encoder call for three searches."""
    col = embkit.create(tmp_path / "t")
    col.add([f"apple text {i}" for i in range(20)], ids=[f"d{i}" for i in range(20)])
    encoder, calls, searches = col.encoder, [], []
    real_encode, real_read = encoder.encode, col._store.search_records
    monkeypatch.setattr(encoder, "encode",
                        lambda texts, *a, **kw: calls.append(list(texts)) or real_encode(texts, *a, **kw))

    def lossy(rowids):
        searches.append(1)
        found = real_read(rowids)
        found.pop(rowids[0], None)
        return found

    col._store.search_records = lossy
    col.search("apple", k=K)
    assert len(searches) == 3 and len(calls) == 1
    col.close()
