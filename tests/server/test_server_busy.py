"""Another process holds the collection's SQLite write lock past the busy timeout: a
write request answers 503 with Retry-After and a one-line error (it was a 500 with a
traceback in the log), nothing is written, reads go on, and the same request succeeds
once the lock is released. A real server; the lock is held by a second process."""

import os
import subprocess
import sys

import embkit

from live_server import LiveServer, create_key

DIM = 4
HOLD = """import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


def test_a_write_meeting_another_writers_lock_is_a_503_to_retry(tmp_path):
    with embkit.create(tmp_path / "busy", model=None, dim=DIM) as col:
        col.add(ids=["seed"], vectors=[[1.0, 0.0, 0.0, 0.0]])
    keys_file = tmp_path / "keys.json"
    key = create_key(keys_file, "write")
    live = LiveServer([str(tmp_path / "busy"), "--keys-file", str(keys_file)], tmp_path / "server.log",
                      env={"EMBKIT_BUSY_TIMEOUT": "0.2"})  # not 30 s: the test waits for nothing
    body = {"documents": [{"id": "new", "vector": [0.0, 1.0, 0.0, 0.0]}]}
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "busy" / "embkit.db")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with live.client(key) as c:
            r = c.post("/collections/busy/add", json=body)
            assert r.status_code == 503 and r.headers["retry-after"] == "1"
            error = r.json()["error"]
            assert error["code"] == "busy" and "\n" not in error["message"]
            assert error["message"].startswith("database is locked: another writer")
            assert "EMBKIT_BUSY_TIMEOUT" in error["message"]
            search = c.post("/collections/busy/search", json={"vector": [1.0, 0.0, 0.0, 0.0], "k": 5})
            assert search.status_code == 200 and [h["id"] for h in search.json()["hits"]] == ["seed"]
            holder.stdin.write("\n")
            holder.stdin.flush()
            assert holder.wait(10) == 0
            assert c.get("/collections/busy").json()["count"] == 1  # the refused add wrote nothing
            assert c.post("/collections/busy/add", json=body).status_code == 201
            assert c.get("/collections/busy").json()["count"] == 2
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
        assert live.stop() == 0
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log and " 503 " in log


def test_serve_refuses_a_bad_busy_timeout_before_it_starts(tmp_path):
    """Found in review: the server started and answered every request 422 naming the variable."""
    with embkit.create(tmp_path / "busy", model=None, dim=DIM):
        pass
    done = subprocess.run([sys.executable, "-m", "embkit.cli", "serve", str(tmp_path / "busy"), "--no-auth",
                           "--port", "9"], env={**os.environ, "EMBKIT_BUSY_TIMEOUT": "soon"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr == "error: EMBKIT_BUSY_TIMEOUT: 'soon' is not a number of seconds from 0 to 3600\n"
