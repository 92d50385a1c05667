"""The rows of recent hits kept in memory (search/hit_rows.py): a warm plain search at an
unchanged store reads no row, and any write since, by this handle, another handle or
another process (a metadata merge too, which leaves the generation alone), is seen by
the next search: never a stale row beside a fresh score, never a deleted row."""

import subprocess
import sys

import numpy as np

import embkit
from embkit.search import hit_rows

N, DIM, K = 60, 8, 5


def _collection(location):
    x = np.random.default_rng(1).normal(size=(N, DIM)).astype(np.float32)
    col = embkit.create(location, model=None, dim=DIM)
    col.add([f"text {i}" for i in range(N)], ids=[f"d{i}" for i in range(N)], vectors=x,
            metadatas=[{"n": i} for i in range(N)])
    return col, x / np.linalg.norm(x, axis=1, keepdims=True)


def _exact(x: np.ndarray, q: np.ndarray, ids: list[str]) -> list[tuple[str, float]]:
    scores = x @ (q / np.linalg.norm(q))
    order = np.argsort(-scores)[:K]
    return [(ids[i], float(scores[i])) for i in order]


def _hits(col, q) -> list[tuple[str, float]]:
    return [(h.id, h.score) for h in col.search(vector=q, k=K)]


def _same(got, want) -> None:
    assert [i for i, _ in got] == [i for i, _ in want]
    assert np.allclose([s for _, s in got], [s for _, s in want], atol=1e-5)


def test_a_repeated_search_takes_the_kept_rows_and_gives_the_same_hits(tmp_path):
    col, x = _collection(tmp_path / "c")
    first = col.search(vector=x[3], k=K)
    again = col.search(vector=x[3], k=K)
    assert again == first and again[0].id == "d3" and again[0].text == "text 3" and again[0].metadata["n"] == 3
    kept = hit_rows._KEPT[col._store][0]
    assert {h.id for h in first} <= {row[0] for row in kept.values()}
    col.close()


def test_an_upsert_between_two_searches_changes_the_hit(tmp_path):
    col, x = _collection(tmp_path / "c")
    ids = [f"d{i}" for i in range(N)]
    assert col.search(vector=x[3], k=K)[0].text == "text 3"
    col.upsert(["new text"], ids=["d3"], vectors=x[3:4], metadatas=[{"n": -3}])  # same vector, new row
    hit = col.search(vector=x[3], k=K)[0]
    assert (hit.id, hit.text, hit.metadata["n"]) == ("d3", "new text", -3)
    moved = -x[3]  # d3 now points away: its score must be the new vector's, not the kept one's
    col.upsert(["away"], ids=["d3"], vectors=moved[None, :])
    x[3] = moved
    _same(_hits(col, x[7]), _exact(x, x[7], ids))
    _same(_hits(col, -x[7]), _exact(x, -x[7], ids))
    col.close()


def test_a_delete_between_two_searches_is_not_returned(tmp_path):
    col, x = _collection(tmp_path / "c")
    ids = [f"d{i}" for i in range(N)]
    before = _hits(col, x[5])
    assert before[0][0] == "d5"
    col.delete(ids=["d5", before[1][0]])
    keep = [i for i, name in enumerate(ids) if name not in ("d5", before[1][0])]
    _same(_hits(col, x[5]), _exact(x[keep], x[5], [ids[i] for i in keep]))
    col.close()


def test_a_metadata_merge_by_this_or_another_handle_is_seen(tmp_path):
    col, x = _collection(tmp_path / "c")
    assert col.search(vector=x[4], k=K)[0].metadata == {"n": 4, "parent": "d4"}
    col.merge_metadata({"d4": {"tag": "mine"}})  # the generation stays: only the state moved
    assert col.search(vector=x[4], k=K)[0].metadata == {"n": 4, "parent": "d4", "tag": "mine"}
    other = embkit.open(tmp_path / "c")  # its own connection: its commit is another connection's
    assert other.search(vector=x[4], k=K)[0].metadata == {"n": 4, "parent": "d4", "tag": "mine"}
    other.merge_metadata({"d4": {"tag": "other"}})
    assert col.search(vector=x[4], k=K)[0].metadata == {"n": 4, "parent": "d4", "tag": "other"}
    col.merge_metadata({"d4": {"tag": None}})
    assert other.search(vector=x[4], k=K)[0].metadata == {"n": 4, "parent": "d4"}
    other.close()
    col.close()


ANOTHER_PROCESS = """
import sys
import embkit
col = embkit.open(sys.argv[1])
if sys.argv[2] == "merge":
    col.merge_metadata({sys.argv[3]: {"tag": "theirs"}})
else:
    col.delete(ids=[sys.argv[3]])
col.close()
"""


def test_writes_by_another_process_are_seen_by_the_next_search(tmp_path):
    col, x = _collection(tmp_path / "c")
    ids = [f"d{i}" for i in range(N)]
    assert col.search(vector=x[6], k=K)[0].metadata == {"n": 6, "parent": "d6"}
    subprocess.run([sys.executable, "-c", ANOTHER_PROCESS, str(tmp_path / "c"), "merge", "d6"], check=True)
    assert col.search(vector=x[6], k=K)[0].metadata == {"n": 6, "parent": "d6", "tag": "theirs"}
    subprocess.run([sys.executable, "-c", ANOTHER_PROCESS, str(tmp_path / "c"), "delete", "d6"], check=True)
    keep = [i for i in range(N) if i != 6]
    _same(_hits(col, x[6]), _exact(x[keep], x[6], [ids[i] for i in keep]))
    col.close()


def test_the_kept_rows_stay_within_their_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(hit_rows, "MAX_ROWS", 12)
    col, x = _collection(tmp_path / "c")
    ids = [f"d{i}" for i in range(N)]
    col.search(vector=x[0], k=K)  # warm: the index loaded (the first search checks before, keeps nothing)
    for i in range(N):
        _same(_hits(col, x[i]), _exact(x, x[i], ids))
        assert len(hit_rows._KEPT[col._store][0]) <= 12
    monkeypatch.setattr(hit_rows, "MAX_CHARS", 400)  # ids, texts and metadata of ~10 rows (~35 a row)
    hit_rows.forget(col._store)
    for i in range(N):
        _same(_hits(col, x[i]), _exact(x, x[i], ids))
        assert hit_rows._KEPT[col._store][0].chars <= 400
        assert hit_rows._KEPT[col._store][0].chars > 0
    col.close()


def test_postgresql_answers_the_warm_form_as_sqlite_and_sees_a_merge(tmp_path, pg_server):
    """PostgreSQL keeps no rows here (its store has no `state`; its search is one statement of
    its own): unit float32 rows, the form warm_plain answers on SQLite, give the same hits on
    both, before and after a metadata merge between two searches."""
    from pg_fixtures import Backend

    x = np.random.default_rng(5).normal(size=(N, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    cols = [embkit.create(tmp_path / "c", model=None, dim=DIM),
            embkit.create(Backend("postgres", server=pg_server)("hitrows"), model=None, dim=DIM)]
    for col in cols:
        col.add([f"text {i}" for i in range(N)], ids=[f"d{i}" for i in range(N)], vectors=x,
                metadatas=[{"n": i} for i in range(N)])
    cols[1].build_index("flat")
    lite, pg = cols
    for q in x[:4]:
        for _ in range(2):
            a, b = lite.search(vector=q, k=K), pg.search(vector=q, k=K)
            assert [(h.id, h.text, h.metadata) for h in a] == [(h.id, h.text, h.metadata) for h in b]
            assert np.allclose([h.score for h in a], [h.score for h in b], atol=1e-5)
    assert getattr(pg._store, "state", None) is None
    for col in cols:
        col.merge_metadata({"d0": {"tag": "merged"}})
        assert col.search(vector=x[0], k=K)[0].metadata == {"n": 0, "parent": "d0", "tag": "merged"}
        col.close()


def test_searches_in_threads_see_every_merge_committed_before_they_began(tmp_path):
    """Four threads search (rows kept between merges) while this one merges a counter
    into a document's metadata: each search sees at least the value committed before it
    began, and the merge after it is never seen before its commit."""
    import threading

    col, x = _collection(tmp_path / "c")
    col.search(vector=x[2], k=K)  # warm
    committed, stop, problems = [0], threading.Event(), []

    def search():
        while not stop.is_set():
            before = committed[0]
            hit = col.search(vector=x[2], k=K)[0]
            seen = hit.metadata.get("v", 0)
            if hit.id != "d2" or seen < before or seen > committed[0] + 1:
                problems.append((hit.id, before, seen))

    threads = [threading.Thread(target=search) for _ in range(4)]
    for thread in threads:
        thread.start()
    for v in range(1, 21):
        col.merge_metadata({"d2": {"v": v}})
        committed[0] = v
    stop.set()
    for thread in threads:
        thread.join()
    assert not problems, problems[:5]
    assert col.search(vector=x[2], k=K)[0].metadata["v"] == 20
    col.close()
