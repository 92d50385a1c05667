"""Each thread reads SQLite on a connection of its own (store/sqlite_connections.py).

Before, the threads of a process shared one connection: a statement one thread had open
held the read snapshot for all of them (another thread's new read missed a commit made
before it began), and a read in another thread during this handle's write saw the
write's uncommitted rows."""

import os
import threading

import numpy as np

import embkit
import embkit.store.sqlite as sqlite_store
from embkit.errors import EmbkitError

D = 4


def _vectors(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, D)).astype(np.float32)


def _in_thread(fn):
    """fn() run in a new thread; its result (or exception) returned here."""
    out = []
    thread = threading.Thread(target=lambda: out.append(_call(fn)))
    thread.start()
    thread.join(60)
    assert not thread.is_alive()
    if isinstance(out[0], BaseException):
        raise out[0]
    return out[0]


def _call(fn):
    try:
        return fn()
    except BaseException as e:  # noqa: BLE001 - handed to the test's thread
        return e


def test_an_open_read_in_one_thread_hides_no_commit_from_a_new_read_in_another(tmp_path):
    with embkit.create(tmp_path / "c", model=None, dim=D) as col:
        col.add(ids=[f"d{i}" for i in range(6)], vectors=_vectors(6, 1), texts=[f"apple {i}" for i in range(6)])
    with embkit.open(tmp_path / "c") as col:
        batches = col._store.vector_batches("text", batch=2)  # a long read, left open after its first batch
        opened = threading.Thread(target=lambda: next(batches))
        opened.start()
        opened.join(30)
        with embkit.open(tmp_path / "c") as elsewhere:  # another handle: another process, as SQLite sees it
            elsewhere.add(ids=["new"], vectors=_vectors(1, 2), texts=["banana bread"])
        # a new read, begun after that commit, in another thread: it sees it
        assert [r.id for r in _in_thread(lambda: col.get(ids=["new"]))] == ["new"]
        assert _in_thread(lambda: col.count()) == 7
        hits = _in_thread(lambda: col.search("banana", mode="keyword", k=3))
        assert [h.id for h in hits] == ["new"]
        batches.close()


def test_a_read_during_this_handles_write_in_another_thread_sees_it_only_once_committed(tmp_path, monkeypatch):
    with embkit.create(tmp_path / "c", model=None, dim=D) as col:
        col.add(ids=["a", "b"], vectors=_vectors(2, 1), texts=["apple pie", "apple tart"])
    col = embkit.open(tmp_path / "c")
    col.search(vector=_vectors(1, 5)[0], k=2)  # the index loaded and caught up
    inside, release, seen = threading.Event(), threading.Event(), {}
    update = sqlite_store.keyword_sqlite.update

    def paused_update(c, old, new, cache=None):  # the write's rows are in, not yet committed
        update(c, old, new, cache)
        inside.set()
        assert release.wait(60)

    monkeypatch.setattr(sqlite_store.keyword_sqlite, "update", paused_update)
    writer = threading.Thread(target=lambda: col.add(ids=["c"], vectors=_vectors(1, 3), texts=["banana split"]))
    writer.start()
    assert inside.wait(60)
    try:
        seen["get"] = [r.id for r in _in_thread(lambda: col.get(ids=["c"]))]
        seen["count"] = _in_thread(lambda: col.count())
        seen["keyword"] = [h.id for h in _in_thread(lambda: col.search("banana", mode="keyword", k=3))]
        seen["dense"] = sorted(h.id for h in _in_thread(lambda: col.search(vector=_vectors(1, 3)[0], k=5)))
    finally:
        release.set()
        writer.join(60)
    assert seen == {"get": [], "count": 2, "keyword": [], "dense": ["a", "b"]}
    # once committed: every read, in any thread, sees it
    assert [r.id for r in _in_thread(lambda: col.get(ids=["c"]))] == ["c"]
    assert _in_thread(lambda: col.count()) == 3
    assert [h.id for h in _in_thread(lambda: col.search("banana", mode="keyword", k=3))] == ["c"]
    assert _in_thread(lambda: col.search(vector=_vectors(1, 3)[0], k=1))[0].id == "c"
    assert col.search(vector=_vectors(1, 3)[0], k=1)[0].id == "c"
    col.close()


def test_a_child_process_forked_with_the_collection_open_refuses_to_use_it(tmp_path):
    """SQLite connections must not cross a fork: the child is told to open it again; the
    parent's connections go on working."""
    col = embkit.create(tmp_path / "c", model=None, dim=D)
    col.add(ids=["a"], vectors=_vectors(1, 1))
    assert col.count() == 1
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what a read and a write say, then leave without cleanup
        said = []
        for attempt in (lambda: col.count(), lambda: col.add(ids=["b"], vectors=_vectors(1, 2))):
            try:
                attempt()
                said.append("worked")
            except EmbkitError as e:
                said.append(str(e))
        os.write(write, "\n".join(said).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as f:
        said = f.read().splitlines()
    refusal = ("path: this collection was opened before the process forked (SQLite connections must not cross "
               "a fork); open it again in this process")
    assert said == [refusal, refusal]
    col.add(ids=["c"], vectors=_vectors(1, 3))
    assert col.count() == 2 and [r.id for r in _in_thread(lambda: col.get(ids=["c"]))] == ["c"]
    col.close()


def test_close_closes_every_threads_connection(tmp_path):
    """Readers of threads still running and of threads that ended are closed with the
    collection: the last connection to close checkpoints the WAL and removes it, so
    the file left behind says none stayed open; a thread reading after that is refused."""
    col = embkit.create(tmp_path / "c", model=None, dim=D)
    col.add(ids=["a", "b"], vectors=_vectors(2, 1))
    _in_thread(lambda: col.count())  # a thread that read, then ended
    read, done, after = threading.Barrier(3), threading.Event(), []

    def reader() -> None:
        col.get(ids=["a"])
        read.wait(30)
        assert done.wait(30)
        after.append(_call(lambda: col.count()))

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    read.wait(30)
    assert col._store._connections.reader_count() >= 2
    col.close()
    done.set()
    for t in threads:
        t.join(30)
    assert not (tmp_path / "c" / "embkit.db-wal").exists()
    assert [type(e).__name__ for e in after] == ["ProgrammingError", "ProgrammingError"]


def test_the_caches_of_one_thread_see_writes_of_another_thread_and_of_another_handle(tmp_path):
    """The filter, meta and keyword caches are shared by threads reading on different
    connections: a write by this handle in one thread, or by another handle, is seen by
    the next search in another thread (PRAGMA data_version is per connection)."""
    col = embkit.create(tmp_path / "c", model=None, dim=D)
    col.add(ids=[f"d{i}" for i in range(20)], vectors=_vectors(20, 1), texts=["apple"] * 20,
            metadatas=[{"b": i % 2} for i in range(20)])
    query = _vectors(1, 9)[0]

    def searches():
        return (sorted(h.id for h in col.search(vector=query, k=50, where={"b": 1})),
                sorted(h.id for h in col.search("banana", mode="keyword", k=50)), col._store.generation)

    first = _in_thread(searches)
    assert _in_thread(searches) == first  # from the caches now
    col.add(ids=["x"], vectors=_vectors(1, 2), texts=["banana"], metadatas=[{"b": 1}])  # this thread
    second = _in_thread(searches)
    assert second == (sorted(first[0] + ["x"]), ["x"], first[2] + 1)
    with embkit.open(tmp_path / "c") as other:  # another handle: another process, as SQLite sees it
        other.add(ids=["y"], vectors=_vectors(1, 3), texts=["banana"], metadatas=[{"b": 1}])
    assert _in_thread(searches) == (sorted(second[0] + ["y"]), ["x", "y"], first[2] + 2)
    col.close()
