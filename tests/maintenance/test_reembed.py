"""embkit reembed: a space moved to another model without downtime. A killed run
resumes with only the unfinished rows; while it runs every search answers from the old
space; after the switch, search equals a fresh collection built with the new model;
rows written meanwhile are in the new space; --drop-old removes the old one."""

import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import embkit
from embkit.errors import EmbkitError

SUBJECTS = ["the farmer", "a doctor", "my sister", "the pilot", "our teacher", "a painter", "the banker", "his uncle",
            "the chef", "a soldier"]
VERBS = ["sells", "paints", "repairs", "studies", "cooks", "buys", "carries", "cleans", "builds", "finds"]
OBJECTS = ["old boats", "fresh bread", "red apples", "heavy engines", "ancient maps", "small houses", "cheap guitars",
           "wooden chairs", "silver coins", "warm coats", "green tea", "broken clocks"]
QUERIES = ["someone cooking food", "a musician with instruments", "money and coins", "repairing machines",
           "furniture made of wood"]


def corpus(n: int) -> tuple[list[str], list[str]]:
    """n distinct sentences (every word in GloVe's vocabulary) and their ids."""
    texts = [f"{s} {v} {o}" for s, v, o in itertools.islice(itertools.product(SUBJECTS, VERBS, OBJECTS), n)]
    return texts, [f"d{i}" for i in range(n)]


def ids_of(hits) -> list[str]:
    return [h.id for h in hits]


def results(col, k: int = 10) -> list[list[str]]:
    return [ids_of(col.search(q, k=k)) for q in QUERIES]


def exact(encoder, texts: list[str], ids: list[str], k: int = 10) -> list[list[str]]:
    """The reference: top-k by cosine over `encoder`'s vectors, by numpy brute force."""
    docs, queries = encoder.encode(texts), encoder.encode(QUERIES)
    docs = docs / np.linalg.norm(docs, axis=1, keepdims=True)
    queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    return [[ids[i] for i in np.argsort(-row, kind="stable")[:k]] for row in queries @ docs.T]


def space_vectors(col, space: str) -> dict[str, np.ndarray]:
    """{document id: vector} stored in physical space `space`."""
    rowids, matrix = col._store.vectors(space)
    records = col._store.by_rowids(rowids)
    return {records[r].id: v for r, v in zip(rowids.tolist(), matrix)}


def test_switch_equals_a_fresh_collection_of_the_new_model(backend):
    texts, ids = corpus(120)
    location = backend("old")
    with embkit.create(location, model="minilm") as col:
        col.add(texts, ids=ids, batch_size=64)
        report = col.reembed("glove-50d", batch_size=16)
        assert report == {"alias": "text", "from": "text", "to": "text_v2", "model": "glove-50d", "resumed": False,
                          "embedded": 120, "switched_with": 0, "dropped": None}
        fresh = embkit.create(backend("fresh"), model="glove-50d")
        fresh.add(texts, ids=ids)
        if backend.postgres:  # exact scans on both sides: the comparison is of the stored vectors
            col.in_space("text").build_index("flat")
            fresh.build_index("flat")
        # The handle that ran the reembed, and a new one, both search the new space by its old name.
        assert col.in_space("text").space.model == "glove-50d"
        assert results(col) == results(fresh)
        info = col.info()
        assert (info["aliases"], info["superseded"], info["reembedding"]) == \
            ({"text": "text_v2"}, {"text": "text_v2"}, {})
        assert set(info["spaces"]) == {"text", "text_v2"}  # the old space is kept without --drop-old
        assert len(space_vectors(col, "text")) == 120
        expected = results(fresh)
        fresh.close()
    with embkit.open(location) as again:
        assert again.space.name == "text_v2" and again.space.model == "glove-50d"
        assert results(again) == expected


def test_searches_during_the_reembed_answer_from_the_old_space(tmp_path, minilm):
    texts, ids = corpus(96)
    written = ["the baker bakes warm bread", *texts[1:], "a fisherman sells fresh fish"], [*ids, "late"]
    before, after = exact(minilm, texts, ids), exact(minilm, *written)  # the old space, without and with the writes
    between = exact(minilm, [*texts, written[0][-1]], [*ids, "late"])  # the add committed, the upsert not yet
    path = tmp_path / "c"
    with embkit.create(path, model="minilm") as col:
        col.add(texts, ids=ids, batch_size=64)
    old = embkit.open(path)  # opened before: another process or a server, say
    assert results(old) == before
    seen = {"batches": 0, "searches": 0, "wrong": []}
    stop, searched = threading.Event(), threading.Event()

    def search_loop():  # a thread with its own handle, searching all the time
        with embkit.open(path) as reader:
            while not stop.is_set():
                got = results(reader)
                if reader.info()["superseded"]:  # the switch came: this search may have used the new space
                    break
                seen["searches"] += 1
                searched.set()
                if got not in (before, between, after):
                    seen["wrong"].append(got)

    def after_batch(n: int) -> None:  # runs after each committed batch of the reembed
        seen["batches"] += 1
        assert searched.wait(60)  # the thread's searches overlap the reembed
        expected = after if seen["batches"] > 2 else before
        assert results(old) == expected
        with embkit.open(path) as newcomer:  # opened mid-way: still the old space
            assert newcomer.space.name == "text" and results(newcomer) == expected
        if seen["batches"] == 2:  # written meanwhile, through the old space (minilm)
            old.add([written[0][-1]], ids=["late"])
            old.upsert([written[0][0]], ids=["d0"])  # d0 was re-embedded by batch 1

    thread = threading.Thread(target=search_loop)
    thread.start()
    try:
        with embkit.open(path) as col:
            report = col.reembed("glove-50d", batch_size=16, progress=after_batch, drop_old=True)
    finally:
        stop.set()
        thread.join()
    assert seen["batches"] >= 6 and seen["searches"] >= 1 and seen["wrong"] == []
    assert report["embedded"] == 96 + 2 and report["dropped"] == "text"
    # After the switch the handle opened before follows to the new space, for reads and writes.
    with embkit.create(tmp_path / "fresh", model="glove-50d") as fresh:
        fresh.add(written[0], ids=written[1])
        assert results(old) == results(fresh)
        glove = fresh.get(["late", "d0"], include_vectors=True)
    stored = space_vectors(old, "text_v2")
    assert len(stored) == 97
    np.testing.assert_allclose(stored["late"], glove[0].vector, atol=1e-6)
    np.testing.assert_allclose(stored["d0"], glove[1].vector, atol=1e-6)
    # --drop-old: no vector, no space, no index files of the old space are left.
    assert "text" not in old.spaces and not (path / "index" / "text").exists()
    with pytest.raises(EmbkitError, match=r"^name: the collection has a space 'text' already"):
        old.add_space("text", "minilm")  # `text` names text_v2 now
    with sqlite3.connect(path / "embkit.db") as db:
        assert db.execute("SELECT count(*) FROM vectors WHERE space = 'text'").fetchone()[0] == 0
    old.add(["a tailor sews warm coats"], ids=["after"])  # lands in the new space
    assert "after" in space_vectors(old, "text_v2")
    old.close()


def embkit_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "embkit.cli", *args], capture_output=True, text=True, timeout=300)


def test_a_killed_reembed_resumes_with_only_the_unfinished_rows(tmp_path):
    texts, ids = corpus(300)
    path = tmp_path / "c"
    with embkit.create(path, model="glove-50d") as col:
        col.add(texts, ids=ids)
    run = subprocess.Popen([sys.executable, "-m", "embkit.cli", "reembed", str(path), "--model", "minilm",
                            "--batch-size", "2", "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    db = sqlite3.connect(path / "embkit.db", isolation_level=None, timeout=60)
    try:
        done = 0
        while done < 10:  # poll the committed rows of the new space; no timing decides the test
            assert run.poll() is None, run.stderr.read().decode()
            done = db.execute("SELECT count(*) FROM vectors WHERE space = 'text_v2'").fetchone()[0]
            time.sleep(0.005)
        db.execute("BEGIN IMMEDIATE")  # no further batch can commit: the kill lands mid-way
        committed = db.execute("SELECT count(*) FROM vectors WHERE space = 'text_v2'").fetchone()[0]
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
        db.execute("ROLLBACK")
    finally:
        if run.poll() is None:
            os.kill(run.pid, signal.SIGKILL)
            run.wait()
        run.stderr.close()
        db.close()
    assert 10 <= committed < 300 and run.returncode == -signal.SIGKILL

    info = json.loads(embkit_cli("info", str(path), "--json").stdout)
    assert info["reembedding"] == {"text": "text_v2"} and info["space"] == "text"  # searches still use text
    other = embkit_cli("reembed", str(path), "--model", "minilm-int8")
    assert other.returncode == 1 and other.stderr.startswith("error: model: a reembed of 'text' into 'text_v2'")

    again = embkit_cli("reembed", str(path), "--model", "minilm", "--batch-size", "64")
    assert again.returncode == 0, again.stderr
    assert again.stdout == (f"re-embedded {300 - committed} row(s) with minilm into text_v2 (resumed); "
                            "'text' now searches text_v2; text kept\n")  # only the unfinished rows
    assert "re-embedding with minilm" in again.stderr and f"{300 - committed}/{300 - committed}" in again.stderr
    shown = embkit_cli("info", str(path)).stdout
    assert "alias text: -> text_v2" in shown and "space text_v2: minilm, 384-d, cosine" in shown
    with embkit.open(path) as col:
        assert col.space.name == "text_v2" and col.space.model == "minilm"
        stored = space_vectors(col, "text_v2")
        assert sorted(stored) == sorted(ids)
        minilm = embkit.load_encoder("minilm").encode(texts)
        np.testing.assert_allclose(np.stack([stored[i] for i in ids]), minilm, atol=1e-5)


def test_bad_requests_change_nothing(tmp_path):
    with embkit.create(tmp_path / "c", model="glove-50d") as col:
        col.add(["the farmer sells old boats"], ids=["a"])
        with pytest.raises(EmbkitError, match=r"^model: space 'text' holds vectors from 'glove-50d' already"):
            col.reembed("glove-50d")
        with pytest.raises(EmbkitError, match=r"^batch_size: must be a positive integer"):
            col.reembed("minilm", batch_size=0)
        with pytest.raises(EmbkitError, match=r"^model: "):
            col.reembed("no-such-model")
        assert set(col.spaces) == {"text"} and col.info()["reembedding"] == {}
    with embkit.create(tmp_path / "v", model=None, dim=3) as col:  # vectors only: no text to embed again
        col.add(vectors=[[1.0, 0.0, 0.0]], ids=["x"])
        with pytest.raises(EmbkitError,
                           match=r"no stored text to embed again .*the partial space 'text_v2' was removed"):
            col.reembed("glove-50d")
        assert set(col.spaces) == {"text"} and col.info()["reembedding"] == {}
    done = embkit_cli("reembed", str(tmp_path / "c"), "--model", "no-such-model")
    assert done.returncode == 1 and done.stderr.startswith("error: model: ") and "Traceback" not in done.stderr


def test_an_interrupted_reembed_resumes_and_takes_in_writes_made_meanwhile(backend, minilm):
    texts, ids = corpus(40)
    location = backend("c")
    with embkit.create(location, model="glove-50d") as col:
        col.add(texts, ids=ids)
    batches = []

    def stop_after_two(n: int) -> None:  # a failure after the second committed batch
        batches.append(n)
        if len(batches) == 2:
            raise KeyboardInterrupt

    with embkit.open(location) as col:
        with pytest.raises(KeyboardInterrupt):
            col.reembed("minilm", batch_size=8, progress=stop_after_two)
        assert col.info()["reembedding"] == {"text": "text_v2"} and len(space_vectors(col, "text_v2")) == 16
        assert col.check().failed == []  # a half-built space is a sound state (its index is left alone)
        col.upsert(["the baker bakes warm bread"], ids=["d0"])  # re-embedded before the stop: queued again
        col.add(["a fisherman sells fresh fish"], ids=["late"])
        report = col.reembed("minilm", batch_size=8)
    assert report["resumed"] is True and report["embedded"] == 40 - 16 + 2
    with embkit.open(location) as col:
        assert col.space.name == "text_v2" and col.space.model == "minilm"
        stored = space_vectors(col, "text_v2")
        assert col.check().failed == []  # both spaces, each against its own index
    final = ["the baker bakes warm bread", *texts[1:], "a fisherman sells fresh fish"]
    assert sorted(stored) == sorted([*ids, "late"])
    np.testing.assert_allclose(np.stack([stored[i] for i in [*ids, "late"]]), minilm.encode(final), atol=1e-5)


def test_a_handle_opened_before_follows_the_switch(backend):
    texts, ids = corpus(24)
    location = backend("c")
    with embkit.create(location, model="minilm") as col:
        col.add(texts, ids=ids)
    before = embkit.open(location)  # a server's handle, say: its own connection (and, on PostgreSQL, cache)
    try:
        with embkit.open(location) as col:
            col.reembed("glove-50d", batch_size=10)
            expected = results(col)
        assert results(before) == expected  # embedded with glove-50d, searched in text_v2
        before.add(["a tailor sews warm coats"], ids=["after"])
        assert "after" in space_vectors(before, "text_v2") and "after" not in space_vectors(before, "text")
        fresh = embkit.load_encoder("glove-50d").encode(["a tailor sews warm coats"])
        np.testing.assert_allclose(before.embed(["a tailor sews warm coats"]), fresh, atol=1e-6)  # the new model
        assert before.similarity(["a"], ["b"]).shape == (1, 1)
        with embkit.open(location) as reopened:  # analysis verbs read the new space too, as a new handle does
            assert before.outliers(top=3) == reopened.outliers(top=3)
    finally:
        before.close()
