"""A real `embkit serve` killed (SIGKILL) while it reads a folder's files sent to
POST /collections/{name}/files: the files sit in a scratch folder of the system temp
folder (ingest/uploads.py), which the kill leaves behind. The next server's start
removes it (its name holds the dead server's pid); a live server's scratch folder stays.
The servers get a private TMPDIR, so nothing outside this test's folder is looked at."""

import base64
import os
import signal
import threading
import time

import httpx

import embkit
from embkit.ingest.held_files import hold
from embkit.ingest.uploads import SCRATCH_MARKER, SCRATCH_PREFIX

from live_server import LiveServer

NAME = "notes"
FILES = 400


def scratch(tmp) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith(SCRATCH_PREFIX))


def folder_body(seed: int) -> dict:
    files = [{"path": f"part{seed}/note{i}.md",
              "data": base64.b64encode(f"# Note {i}\n\nA short note, number {i} of {seed}.\n".encode()).decode()}
             for i in range(FILES)]
    return {"folder": f"sent{seed}", "files": files}


def _post(url: str, body: dict) -> None:
    try:
        httpx.post(f"{url}/collections/{NAME}/files", json=body, timeout=120)
    except httpx.HTTPError:  # the server died under it
        pass


def test_a_killed_files_upload_leaves_no_scratch_folder_after_restart(tmp_path, minilm):
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    with embkit.create(tmp_path / NAME):
        pass
    args, env = [str(tmp_path / NAME), "--no-auth"], {"HF_HUB_OFFLINE": "1", "TMPDIR": str(tmp)}
    left, pid = [], None
    for attempt in range(5):  # the kill must land while the files are in their scratch folder
        server = LiveServer(args, tmp_path / f"server{attempt}.log", env=env)
        pid = server.process.pid
        sent = threading.Thread(target=_post, args=(server.url, folder_body(attempt)), daemon=True)
        sent.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sent.is_alive() and not scratch(tmp):
            pass  # a busy poll: the files are read in a fraction of a second
        server.process.send_signal(signal.SIGSTOP)  # nothing moves while we look
        left = scratch(tmp)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        sent.join(30)
        if left:
            break
    assert left, "the kill never landed while the files were in their scratch folder"
    assert all(name.startswith(f"{SCRATCH_PREFIX}{pid}-") for name in left)
    live = tmp / f"{SCRATCH_PREFIX}{os.getpid()}-abcd1234"  # a server still reading: its marker held
    live.mkdir()
    reading = hold(live / SCRATCH_MARKER)
    (live / "0.md").write_text("in flight")
    other = tmp / "embkit-upload-notes"  # not a scratch folder's name: left alone
    other.mkdir()
    restarted = LiveServer(args, tmp_path / "restarted.log", env=env)
    try:
        assert scratch(tmp) == sorted([live.name, other.name])  # the dead server's, gone before any request
        with restarted.client() as http:
            answer = http.post(f"/collections/{NAME}/files", json=folder_body(99))
            assert answer.status_code == 201, answer.text
        assert scratch(tmp) == sorted([live.name, other.name])
    finally:
        assert restarted.stop() == 0
        reading.close()
