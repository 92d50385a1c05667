"""A real `embkit serve` killed (SIGKILL) while it stages an image upload leaves temp
files in the collection's images/ folder (each named for its writer's pid: atomic.temp_name).
They were removed only by the next upload to that collection; now the next server's start
removes them, before it answers, and the collection takes the same upload again."""

import base64
import os
import signal
import threading
import time

import httpx
import pytest

pytest.importorskip("transformers")
pytest.importorskip("torch")

import embkit  # noqa: E402
from embkit.atomic import TEMP_SUFFIX  # noqa: E402

from clip_maker import make_tiny_clip  # noqa: E402
from live_server import LiveServer  # noqa: E402

NAME = "photos"
FILES, SIZE = 80, 96 * 1024  # ~10 MB of base64 in one request: staging them takes a while to catch


def temps(folder) -> list[str]:
    try:
        return sorted(p.name for p in folder.iterdir() if p.name.endswith(TEMP_SUFFIX))
    except FileNotFoundError:
        return []


def body(seed: int) -> dict:
    """FILES distinct files (staged before anything decodes them: any bytes will do)."""
    return {"images": [{"data": base64.b64encode(os.urandom(SIZE)).decode(), "filename": f"p{seed}-{i}.png"}
                       for i in range(FILES)]}


def kill_while_staging(server: LiveServer, uploads, payload: dict) -> list[str]:
    """Send `payload` and stop the server process the moment a temp file shows (SIGSTOP:
    nothing moves while we look), then SIGKILL it if temp files are there: their names;
    [] if the moment was missed (the request's files were renamed or it ended)."""
    sent = threading.Thread(target=_post, args=(server.url, payload), daemon=True)
    sent.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sent.is_alive() and not temps(uploads):
        pass  # a busy poll: the staging lasts milliseconds
    server.process.send_signal(signal.SIGSTOP)
    left = temps(uploads)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(10)
    sent.join(30)
    return left


def _post(url: str, payload: dict) -> None:
    try:
        httpx.post(f"{url}/collections/{NAME}/images", json=payload, timeout=60)
    except httpx.HTTPError:  # the server died under it
        pass


def test_temp_files_of_a_killed_upload_are_gone_after_restart(tmp_path):
    clip = make_tiny_clip(tmp_path / "tiny-clip")
    with embkit.create(tmp_path / NAME, model=f"{clip}#image"):
        pass
    uploads = tmp_path / NAME / "images"
    args, env = [str(tmp_path / NAME), "--no-auth"], {"HF_HUB_OFFLINE": "1"}
    left = []
    for attempt in range(5):  # the kill must land while files are staged; on a busy machine it may miss
        server = LiveServer(args, tmp_path / f"server{attempt}.log", env=env)
        left = kill_while_staging(server, uploads, body(attempt))
        if left:
            break
        for stray in uploads.glob("*"):  # a missed moment may have landed the upload: start again empty
            stray.unlink()
    assert left, "the kill never landed while files were staged"
    assert all(f".{server.process.pid}-" in name for name in left)  # each names the killed process
    restarted = LiveServer(args, tmp_path / "restarted.log", env=env)
    try:
        assert temps(uploads) == []  # removed at start, before any request
        with restarted.client() as http:
            count = http.get(f"/collections/{NAME}").json()["count"]
            small = {"images": [{"data": base64.b64encode(b"not a picture").decode(), "id": "junk"}]}
            answer = http.post(f"/collections/{NAME}/images", json=small)
            assert answer.status_code == 200, answer.text
            assert answer.json()["skipped"][0]["id"] == "junk"
            assert http.get(f"/collections/{NAME}").json()["count"] == count
        assert temps(uploads) == []
    finally:
        assert restarted.stop() == 0


def test_a_live_writers_temp_file_is_kept_at_start(tmp_path):
    """Another server worker's upload in flight (its pid alive): a start must not remove it."""
    clip = make_tiny_clip(tmp_path / "tiny-clip")
    with embkit.create(tmp_path / NAME, model=f"{clip}#image"):
        pass
    uploads = tmp_path / NAME / "images"
    uploads.mkdir()
    live = uploads / f"{'a' * 40}.png.{os.getpid()}-0123abcd{TEMP_SUFFIX}"  # this test's own pid: alive
    dead = uploads / f"{'b' * 40}.png.999999999-0123abcd{TEMP_SUFFIX}"  # no such pid
    live.write_bytes(b"in flight")
    dead.write_bytes(b"left over")
    server = LiveServer([str(tmp_path / NAME), "--no-auth"], tmp_path / "server.log", env={"HF_HUB_OFFLINE": "1"})
    try:
        assert temps(uploads) == [live.name]
    finally:
        assert server.stop() == 0
