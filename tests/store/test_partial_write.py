"""A write whose statement fails midway (a nearly full disk) stores nothing of its batch,
also while other threads read through the store.

Before, the threads shared one connection: Python reads the connection's last error code
after a statement fails, and another thread's read had reset it, so the failure went
unnoticed; SQLite had rolled the transaction back, and the batch's remaining statements
ran outside any transaction, each committed on its own. In 4 of 4 runs of 300 batches
before the fix, one batch left 2 of its 1,000 rows stored (and its write still raised, at
COMMIT). Now readers have connections of their own, and every statement of a write is
checked to have left its transaction open (store/sqlite_connections.py)."""

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import numpy as np

import embkit

WORKER = Path(__file__).with_name("partial_write_worker.py")
ROUNDS = 300


def test_a_batch_that_fails_midway_on_a_full_disk_stores_nothing_with_reads_in_flight(tmp_path):
    with embkit.create(tmp_path / "c", model=None, dim=4) as col:
        col.add(ids=["seed"], vectors=np.ones((1, 4), np.float32))
    run = subprocess.run([sys.executable, str(WORKER), str(tmp_path / "c"), str(ROUNDS)], capture_output=True,
                         text=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.splitlines() == ["open False"]  # no batch said stored, no transaction left open
    with closing(sqlite3.connect(tmp_path / "c" / "embkit.db")) as conn:
        stored = conn.execute("SELECT count(*) FROM docs WHERE id <> 'seed'").fetchone()[0]
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert stored == 0
