"""A real `embkit serve` killed (SIGKILL) mid-upload: while it stages the files, it
leaves temp files in the collection's images/ folder (each named for its writer's pid:
atomic.temp_name), removed only by the next upload to that collection; while its write
runs (after the copies are renamed into place, before the commit), copies no document
names, never removed. Now the next server's start removes both, before it answers, and
keeps what a document names or a live writer is still making (server/upload_recovery.py)."""

import base64
import os
import shutil
import signal
import threading
import time

import httpx
import pytest

pytest.importorskip("transformers")
pytest.importorskip("torch")

import embkit  # noqa: E402
from embkit.atomic import TEMP_SUFFIX  # noqa: E402
from embkit.ingest.held_files import hold  # noqa: E402
from embkit.server.uploads import LANDING_SUFFIX  # noqa: E402

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


def copies(folder) -> list[str]:
    """The kept copies (not temp files, not notes) in an upload folder."""
    try:
        return sorted(p.name for p in folder.iterdir() if not p.name.endswith((TEMP_SUFFIX, LANDING_SUFFIX)))
    except FileNotFoundError:
        return []


def pictures(seed: int) -> dict:
    """FILES distinct real PNG pictures (noise), which the write decodes and embeds."""
    import io

    import numpy as np
    from PIL import Image

    rng, images = np.random.default_rng(seed), []
    for i in range(FILES):
        out = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (120, 120, 3), dtype=np.uint8)).save(out, "PNG")
        images.append({"data": base64.b64encode(out.getvalue()).decode(), "filename": f"p{seed}-{i}.png"})
    return {"images": images}


def kill_while_staging(server: LiveServer, uploads, payload: dict, seen=temps) -> list[str]:
    """Send `payload` and stop the server process the moment `seen(uploads)` shows a
    file (SIGSTOP: nothing moves while we look), then SIGKILL it: what `seen` showed
    then ([] if the moment was missed: the request moved past it or ended)."""
    sent = threading.Thread(target=_post, args=(server.url, payload), daemon=True)
    sent.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sent.is_alive() and not seen(uploads):
        pass  # a busy poll: the moment lasts milliseconds
    server.process.send_signal(signal.SIGSTOP)
    left = seen(uploads)
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


def test_copies_of_a_write_killed_before_its_commit_are_gone_after_restart(tmp_path):
    clip = make_tiny_clip(tmp_path / "tiny-clip")
    with embkit.create(tmp_path / NAME, model=f"{clip}#image"):
        pass
    uploads = tmp_path / NAME / "images"
    args, env = [str(tmp_path / NAME), "--no-auth"], {"HF_HUB_OFFLINE": "1"}
    left, stored = [], None
    for attempt in range(5):  # the kill must land after the renames, before the commit
        server = LiveServer(args, tmp_path / f"server{attempt}.log", env=env)
        left = kill_while_staging(server, uploads, pictures(attempt), seen=copies)
        with embkit.open(tmp_path / NAME) as col:
            stored = col.count()
        if left and stored == 0:
            break
        shutil.rmtree(tmp_path / NAME)  # missed: the upload landed; start again from an empty collection
        with embkit.create(tmp_path / NAME, model=f"{clip}#image"):
            pass
    assert left and stored == 0, "the kill never landed between the renames and the commit"
    assert [p.name for p in uploads.glob("*" + LANDING_SUFFIX)]  # the note the write left
    restarted = LiveServer(args, tmp_path / "restarted.log", env=env)
    try:
        assert sorted(p.name for p in uploads.iterdir()) == []  # no copy, note or temp file, before any request
        with restarted.client() as http:
            answer = http.post(f"/collections/{NAME}/images", json=pictures(99))
            assert answer.status_code == 200, answer.text
            assert len(answer.json()["ids"]) == FILES
        assert len(copies(uploads)) == FILES and sorted(p.name for p in uploads.iterdir()) == copies(uploads)
    finally:
        assert restarted.stop() == 0


def test_a_copy_a_document_names_is_kept(tmp_path):
    """A dead write's note lists a copy a document names (its write committed before the
    kill, or another request found the copy and named it) and one none names."""
    clip = make_tiny_clip(tmp_path / "tiny-clip")
    with embkit.create(tmp_path / NAME, model=f"{clip}#image"):
        pass
    uploads = tmp_path / NAME / "images"
    args, env = [str(tmp_path / NAME), "--no-auth"], {"HF_HUB_OFFLINE": "1"}
    server = LiveServer(args, tmp_path / "server.log", env=env)
    try:
        with server.client() as http:
            one = {"images": pictures(1)["images"][:1]}
            assert http.post(f"/collections/{NAME}/images", json=one).status_code == 200
    finally:
        assert server.stop() == 0
    [named] = copies(uploads)
    unnamed = "c" * 40 + ".png"
    (uploads / unnamed).write_bytes(b"a copy whose write died")
    note = uploads / f"landing.999999999-0123abcd{TEMP_SUFFIX}{LANDING_SUFFIX}"  # no such pid
    note.write_text(f"{named}\n{unnamed}\n")
    server = LiveServer(args, tmp_path / "again.log", env=env)
    try:
        assert sorted(p.name for p in uploads.iterdir()) == [named]
        with server.client() as http:
            doc = http.get(f"/collections/{NAME}/documents/{named.removesuffix('.png')}").json()
            assert doc["metadata"]["path"].endswith(named)
    finally:
        assert server.stop() == 0


def test_a_live_writers_temp_file_is_kept_at_start(tmp_path):
    """Another server worker's upload in flight (its pid alive): a start must not remove it."""
    clip = make_tiny_clip(tmp_path / "tiny-clip")
    with embkit.create(tmp_path / NAME, model=f"{clip}#image"):
        pass
    uploads = tmp_path / NAME / "images"
    uploads.mkdir()
    live = uploads / f"{'a' * 40}.png.{os.getpid()}-0123abcd{TEMP_SUFFIX}"  # held by this test: a live writer's
    dead = uploads / f"{'b' * 40}.png.{os.getpid()}-0123abcd{TEMP_SUFFIX}"  # held by no one: a dead writer's
    held = [hold(live)]
    held[0].write(b"in flight")
    dead.write_bytes(b"left over")
    making = uploads / ("d" * 40 + ".png")  # a copy a live write is making, named by no document yet
    making.write_bytes(b"being written")
    note = uploads / f"landing.{os.getpid()}-0123abcd{TEMP_SUFFIX}{LANDING_SUFFIX}"
    held.append(hold(note))
    held[1].write((making.name + "\n").encode())
    held[1].flush()
    server = LiveServer([str(tmp_path / NAME), "--no-auth"], tmp_path / "server.log", env={"HF_HUB_OFFLINE": "1"})
    try:
        assert temps(uploads) == [live.name]
        assert sorted(p.name for p in uploads.iterdir()) == sorted([live.name, making.name, note.name])
    finally:
        assert server.stop() == 0
        for f in held:
            f.close()
