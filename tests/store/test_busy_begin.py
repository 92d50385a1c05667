"""A write waits for the lock while another thread's read is in flight on the shared
connection (store/sqlite_busy.py): SQLite itself answers "database is locked" at once
there, which made adds in a two-worker server fail with 500s. The read is held open
one row in; the write's BEGIN IMMEDIATE is seen starting (the connection's trace), and
only then does the read end: SQLite's connection mutex orders the two, so the first
attempt always meets the open read."""

import sqlite3
import threading
import time
from contextlib import closing

import numpy as np
import pytest

import embkit
from embkit.errors import EmbkitError
from embkit.store.sqlite_busy import begin_immediate, busy_timeout

DIM = 4


def _vectors(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


@pytest.mark.parametrize("other_process", ["committed", "holds the lock"])
def test_an_add_waits_for_another_threads_read_in_flight(tmp_path, other_process):
    with embkit.create(tmp_path / "c", model=None, dim=DIM) as col:
        col.add(ids=["a", "b", "c"], vectors=_vectors(3, 1))
    with embkit.open(tmp_path / "c") as col, embkit.open(tmp_path / "c") as elsewhere, \
            closing(sqlite3.connect(tmp_path / "c" / "embkit.db", isolation_level=None)) as locker:
        conn = col._store._conn
        reading = conn.execute("SELECT rowid FROM docs")  # a search's read, one row in: a read transaction
        reading.fetchone()
        if other_process == "committed":  # since that read began: its snapshot can never write
            elsewhere.add(ids=["x"], vectors=_vectors(1, 2))
        else:
            locker.execute("BEGIN IMMEDIATE")
        began, failures = threading.Event(), []
        conn.set_trace_callback(lambda sql: began.set() if sql == "BEGIN IMMEDIATE" else None)

        def add() -> None:
            try:
                col.add(ids=["d"], vectors=_vectors(1, 3))
            except Exception as e:  # noqa: BLE001 - reported to the test's thread
                failures.append(e)

        writer = threading.Thread(target=add)
        writer.start()
        assert began.wait(20)
        reading.close()  # the read ends, after the first BEGIN IMMEDIATE has run
        if other_process == "holds the lock":
            locker.execute("ROLLBACK")
        writer.join(30)
        conn.set_trace_callback(None)
        assert not writer.is_alive() and failures == []
        assert [d.id for d in col.get(ids=["d"])] == ["d"]
        assert col.count() == (5 if other_process == "committed" else 4)


def test_the_wait_for_another_writer_is_bounded_by_its_timeout(tmp_path, monkeypatch):
    with embkit.create(tmp_path / "c", model=None, dim=DIM) as col:
        col.add(ids=["a"], vectors=_vectors(1, 1))
    monkeypatch.setenv("EMBKIT_BUSY_TIMEOUT", "0.05")
    with embkit.open(tmp_path / "c") as col, \
            closing(sqlite3.connect(tmp_path / "c" / "embkit.db", isolation_level=None)) as locker:
        assert col._store._conn.execute("PRAGMA busy_timeout").fetchone()[0] == 50
        locker.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            col.add(ids=["b"], vectors=_vectors(1, 2))
        locker.execute("ROLLBACK")
        assert col.count() == 1


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "7200"])
def test_a_bad_busy_timeout_is_refused_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("EMBKIT_BUSY_TIMEOUT", value)
    with pytest.raises(EmbkitError, match=r"^EMBKIT_BUSY_TIMEOUT: .* is not a number of seconds from 0 to 3600$"):
        busy_timeout()


def test_a_begin_whose_error_code_another_threads_read_overwrote_still_waits(tmp_path):
    """Python reads the connection's last error code after BEGIN IMMEDIATE fails; two
    threads reading on the same connection overwrite it with SQLITE_ROW / SQLITE_DONE
    ("another row available": a DatabaseError, a 500 in a two-worker server) or SQLITE_OK
    (no error at all, and no transaction open). Before the fix ~1 in 10 rounds failed."""
    db = tmp_path / "t.db"
    with closing(sqlite3.connect(db, isolation_level=None)) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t(x)")
        setup.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(50)])
    with closing(sqlite3.connect(db, isolation_level=None, check_same_thread=False, timeout=5)) as conn, \
            closing(sqlite3.connect(db, isolation_level=None)) as locker:
        stop, outcomes = threading.Event(), []

        def read() -> None:
            while not stop.is_set():
                conn.execute("SELECT x FROM t").fetchall()

        def begin() -> None:
            try:
                begin_immediate(conn)
                outcomes.append("began" if conn.in_transaction else "no transaction")
                conn.execute("ROLLBACK")
            except Exception as e:  # noqa: BLE001 - reported to the test's thread
                outcomes.append(f"{type(e).__name__}: {e}")

        readers = [threading.Thread(target=read) for _ in range(2)]
        for r in readers:
            r.start()
        try:
            for _ in range(100):
                locker.execute("BEGIN IMMEDIATE")  # another process's write: BEGIN meets it busy
                writer = threading.Thread(target=begin)
                writer.start()
                time.sleep(0.01)
                locker.execute("ROLLBACK")
                writer.join(10)
        finally:
            stop.set()
            for r in readers:
                r.join()
    assert outcomes == ["began"] * 100, sorted(set(outcomes))
