"""Crash safety: a batch is one transaction.

A worker process ingests batches into one collection and is killed with SIGKILL at
random points, over and over; after every kill the collection must open, hold every
batch the worker reported committed, and hold no batch partly (nor any it never
started). The keyword index is part of the batch's transaction: after every kill its
results are BM25 over exactly the committed texts (some kills land inside its update).
See crash_worker.py for what each batch writes.
"""

import importlib.util
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

import embkit
from embkit.store import bm25
from embkit.store.keyword_terms import tokenize

HERE = Path(__file__).resolve().parent
WORKER = HERE / "crash_worker.py"
ROUNDS = 26
SEED = 20240611

_spec = importlib.util.spec_from_file_location("embkit_crash_worker", WORKER)
W = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(W)


def _unit(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.float64)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def expected_state(last: int) -> dict[str, tuple[dict, np.ndarray, str]]:
    """id -> (metadata, unit vector, text) once batches 0..last are committed."""
    out = {}
    for b in range(last + 1):
        revised = b + 1 <= last and W.is_upsert(b + 1)
        metas = W.metadatas(b, rev=b + 1) if revised else W.metadatas(b)
        vecs = _unit(W.vectors(b, rev=b + 1) if revised else W.vectors(b))
        texts = W.texts(b, rev=b + 1) if revised else W.texts(b)
        metas = [{**m, "parent": i} for i, m in zip(W.ids(b), metas)]  # each record names its document
        out.update(zip(W.ids(b), zip(metas, vecs, texts)))
    return out


def reference_bm25(texts: dict[str, str], query: str) -> dict[str, float]:
    """id -> BM25 score (> 0) of `query` over exactly `texts`, by hand (store/bm25.py's formula)."""
    docs = dict(zip(texts, tokenize(list(texts.values()))))
    avgdl = sum(len(t) for t in docs.values()) / len(docs)
    scores = dict.fromkeys(docs, 0.0)
    for term in tokenize([query])[0]:
        df = sum(term in t for t in docs.values())
        for i, terms in docs.items():
            tf = terms.count(term)
            if tf:
                scores[i] += bm25.idf(len(docs), df) * tf / (tf + bm25.K1 * (1 - bm25.B + bm25.B * len(terms) / avgdl))
    return {i: v for i, v in scores.items() if v > 0}


def present_batches(col) -> int:
    """The highest batch present; asserts that exactly batches 0..that are, each whole."""
    by_batch = defaultdict(set)
    revs = defaultdict(Counter)
    for doc in col.get():
        b = doc.metadata["batch"]
        by_batch[b].add(doc.id)
        revs[b][doc.metadata.get("rev")] += 1
    batches = sorted(by_batch)
    for b in batches:  # (3) no partial batch: each present batch has exactly its ids
        assert by_batch[b] == set(W.ids(b)), (
            f"batch {b} is partial: {len(by_batch[b])} of {W.size(b)} documents present")
    last = batches[-1] if batches else -1
    assert batches == list(range(last + 1)), f"batches present are not 0..{last}: {batches}"
    for b in batches:  # an upsert batch rewrote its predecessor whole, or not at all
        want = b + 1 if b + 1 <= last and W.is_upsert(b + 1) else None
        assert revs[b] == Counter({want: W.size(b)}), (
            f"batch {b}: revisions {dict(revs[b])}, expected all {want!r} (batch {b + 1} present: {b + 1 <= last})")
    return last


def check_collection(col, last: int, rng: random.Random) -> None:
    """The full content equals batches 0..last: ids, metadata, vectors, count, search."""
    expected = expected_state(last)
    ids = list(expected)
    # (5) the count is the sum of the batch sizes
    assert col.count() == len(expected) == sum(W.size(b) for b in range(last + 1))
    if not ids:
        return
    # (2) every committed batch is there in full, with its metadata and vectors
    docs = col.get(ids, include_vectors=True)
    assert [d.id for d in docs] == ids
    for d in docs:
        assert d.metadata == expected[d.id][0] and d.text == expected[d.id][2], d.id
        assert d.vector is not None, f"{d.id} has no vector"
    got = np.stack([d.vector for d in docs])
    want = np.stack([expected[i][1] for i in ids])
    err = np.abs(got - want).max(axis=1)
    assert err.max() <= 1e-6, f"vector of {ids[int(err.argmax())]} differs by {err.max():g}"
    # (6) an exact search finds each probed document first, with score ~1
    for i in rng.sample(range(len(ids)), min(8, len(ids))):
        hits = col.search(vector=want[i], k=3)
        assert hits[0].id == ids[i], (ids[i], hits[:3])
        assert abs(hits[0].score - 1.0) < 1e-5, hits[0]
        assert hits[0].metadata == expected[ids[i]][0]
        assert len(hits) == min(3, len(ids)) and all(h.score < hits[0].score for h in hits[1:])
    # the same for a filtered search restricted to the probed document's batch
    b = rng.randrange(last + 1)
    first = W.ids(b)[0]
    hits = col.search(vector=expected[first][1], k=5, where={"batch": b})
    assert hits[0].id == first and {h.metadata["batch"] for h in hits} == {b}
    # (7) keyword search is BM25 over exactly the committed texts: nothing torn, nothing lost
    texts = {i: expected[i][2] for i in ids}
    for query in (f"{rng.choice(W.WORDS)} {rng.choice(W.WORDS)}", f"revised batch{b}"):
        want = reference_bm25(texts, query)
        hits = col.search(query, k=20, mode="keyword")
        assert len(hits) == min(20, len(want)), query
        for h in hits:
            assert abs(h.score - want[h.id]) <= 1e-5 * max(1.0, want[h.id]), (query, h.id, h.score, want[h.id])
        assert hits[-1].score >= sorted(want.values())[-len(hits)] - 1e-5


def sqlite_checks(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        orphans = conn.execute("SELECT count(*) FROM docs WHERE rowid NOT IN (SELECT doc FROM vectors)").fetchone()
        assert orphans == (0,)
    finally:
        conn.close()


class Worker:
    """The worker process with a thread collecting its stdout lines."""

    def __init__(self, path: Path, start: int, stderr_file, pause: int | None = None, keyword: bool = False):
        extra = [] if pause is None else [str(pause), *(["keyword"] if keyword else [])]
        self.proc = subprocess.Popen([sys.executable, str(WORKER), str(path), str(start), *extra],
                                     stdout=subprocess.PIPE, stderr=stderr_file, text=True)
        self.lines: list[str] = []
        self.events: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self.events.put(self.lines[-1])
        self.events.put(None)

    def wait_for(self, prefix: str, nth: int = 1, timeout: float = 20.0) -> bool:
        """Block until the nth line starting with `prefix` (False if the worker ended)."""
        deadline, seen = time.monotonic() + timeout, sum(x.startswith(prefix) for x in self.lines)
        while seen < nth:
            try:
                line = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"worker printed no {nth}th {prefix!r} line in {timeout} s") from None
            if line is None:
                return False
            seen += line.startswith(prefix)
        return True

    def kill(self) -> list[str]:
        self.proc.kill()  # SIGKILL on POSIX
        self.proc.wait(timeout=20)
        self.thread.join(timeout=20)  # the pipe is at EOF: all that was printed is read
        assert not self.thread.is_alive()
        return self.lines


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_during_ingest_keeps_exactly_the_committed_batches(tmp_path):
    rng = random.Random(SEED)
    path = tmp_path / "col"
    embkit.create(path, model=None, dim=W.DIM).close()
    db = path / "embkit.db"
    last = -1  # highest batch present
    outcomes = Counter()
    held = None  # a handle kept open across a worker's life in some rounds
    upserts_paused = 0  # rounds stopped inside an upsert, with part of the batch before rewritten
    keyword_paused = 0  # rounds stopped inside the keyword index's update, every row already written
    started = time.monotonic()

    for rnd in range(ROUNDS):
        mode = ("startup", "ready", "begin", "inside")[rnd % 4]
        err_path = tmp_path / f"worker-{rnd}.err"
        pause = None
        if mode == "inside":  # a plain batch, then an upsert batch, alternately
            pause = last + 1 + rng.randint(1, 8)
            while rnd % 8 == 7 and not W.is_upsert(pause):
                pause += 1
        with open(err_path, "w") as err:
            worker = Worker(path, last + 1, err, pause, keyword=rnd % 8 == 3)
            try:
                if mode == "startup":  # anywhere: importing, opening, or ingesting
                    time.sleep(rng.uniform(0.05, 0.35))
                elif mode == "ready":  # anywhere once the collection is open
                    assert worker.wait_for("ready"), "worker ended before opening"
                    time.sleep(rng.uniform(0.0, 0.15))
                elif mode == "begin":  # just after some batch began: aims inside its transaction
                    assert worker.wait_for("begin", rng.randint(1, 12)), "worker ended early"
                    time.sleep(rng.uniform(0.0, 0.008))
                else:  # surely inside: the worker stopped in the transaction, some rows written
                    assert worker.wait_for("inside"), "worker ended before pausing"
            finally:
                lines = worker.kill()
        stderr = err_path.read_text()
        assert worker.proc.returncode == -signal.SIGKILL, (worker.proc.returncode, stderr)

        begun = [int(x.split()[1]) for x in lines if x.startswith("begin ")]
        committed = [int(x.split()[1]) for x in lines if x.startswith("committed ")]
        start = last + 1
        assert committed == list(range(start, start + len(committed))), lines[-5:]
        assert begun == list(range(start, start + len(begun))), lines[-5:]
        reported = committed[-1] if committed else start - 1

        # (1) it opens without error
        col = embkit.open(path)
        try:
            found = present_batches(col)  # (3) whole batches only, and contiguous
            # (2) every reported batch is present; (4) at most the one being written besides
            assert found >= reported, f"round {rnd}: batch {found + 1} was reported committed but is missing"
            assert found <= reported + 1, f"round {rnd}: batches up to {found} present, last reported {reported}"
            if found == reported + 1:
                assert begun and begun[-1] == found, f"round {rnd}: batch {found} present but never begun"
            check_collection(col, found, rng)  # (2), (5), (6) in detail
            if held is not None:  # a handle open through the crash sees the same state
                assert present_batches(held) == found
                check_collection(held, found, rng)
        except BaseException:
            col.close()
            raise
        finally:
            if held is not None:
                held.close()
                held = None
        sqlite_checks(db)

        if pause is not None:  # the batch it stopped in is absent: the committed state is intact
            assert lines[-1] == f"inside {pause}" and begun[-1] == pause == reported + 1 == found + 1, lines[-3:]
            outcomes["killed mid-transaction, rows written (absent)"] += 1
            upserts_paused += W.is_upsert(pause)
            keyword_paused += rnd % 8 == 3
        elif not lines or lines[0] != "ready":
            outcomes["killed before the collection was open"] += 1
        elif found == reported + 1:
            outcomes["committed, killed before reporting"] += 1
        elif begun and begun[-1] > reported:
            outcomes["killed mid-batch (begun, not committed, absent)"] += 1
        else:
            outcomes["killed between batches"] += 1
        last = found
        if rnd % 3 == 1:
            held = col
        else:
            col.close()

    if held is not None:
        held.close()

    # no stale lock or journal blocks a normal write after all those crashes
    col = embkit.open(path)
    try:
        method, ids, texts, metas, vecs = W.batch_call(last + 1)
        getattr(col, method)(ids=ids, texts=texts, metadatas=metas, vectors=vecs)  # a held lock would raise "locked"
        assert present_batches(col) == last + 1
        check_collection(col, last + 1, rng)
    finally:
        col.close()
    with embkit.open(path) as again:
        assert again.count() == sum(W.size(b) for b in range(last + 2))
    sqlite_checks(db)

    print(f"\n{ROUNDS} rounds, {last + 2} batches, {time.monotonic() - started:.1f} s: {dict(outcomes)}")
    assert sum(outcomes.values()) == ROUNDS
    # every fourth round stopped inside a transaction; half of those in an upsert of the batch before
    assert outcomes["killed mid-transaction, rows written (absent)"] == ROUNDS // 4
    assert upserts_paused >= ROUNDS // 8 and keyword_paused == 3
    assert last >= ROUNDS // 2, f"only {last + 1} batches committed over {ROUNDS} rounds"
