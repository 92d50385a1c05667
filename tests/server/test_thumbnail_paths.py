"""Thumbnails read no file a client names (issue 19, items 6 and 7): a document whose
metadata says `{"image": true, "path": ANY}` got a thumbnail of any picture the server
could read. Now a thumbnail is made only from the collection's own uploads or from
files under `serve --image-root DIR`; legitimate thumbnails still work. A NUL in an
uploaded image's file name is a 422, not a 500."""

import base64
import hashlib
import os

import pytest

pytest.importorskip("transformers")
pytest.importorskip("torch")

import embkit  # noqa: E402

from clip_maker import make_tiny_clip  # noqa: E402
from live_server import LiveServer  # noqa: E402

NAME = "photos"


def picture(path, colour):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), colour).save(path)
    return path


def thumbnail_file(folder, doc_id: str):
    return folder / NAME / "thumbnails" / (hashlib.sha1(doc_id.encode()).hexdigest() + ".webp")


@pytest.fixture(scope="module")
def served(tmp_path_factory, minilm):
    work = tmp_path_factory.mktemp("thumbs")
    clip = make_tiny_clip(work / "tiny-clip")
    secret = picture(work / "private" / "secret.png", (200, 0, 0))  # outside every root
    shared = picture(work / "shared" / "ok.png", (0, 200, 0))  # under --image-root
    outside = picture(work / "elsewhere" / "mine.png", (0, 0, 200))  # added by the owner, not under a root
    (work / "shared" / "link.png").symlink_to(secret)  # a way out of the root
    with embkit.create(work / NAME, model="minilm", image_model=str(clip)) as col:
        col.add_images([str(shared), str(outside)], ids=["shared", "outside"])
    server = LiveServer([str(work / NAME), "--no-auth", "--image-root", str(work / "shared")], work / "server.log",
                        env={"HF_HUB_OFFLINE": "1"})
    try:
        with server.client() as client:
            yield client, work, secret
    finally:
        assert server.stop() == 0


def test_a_path_in_metadata_is_never_read(served):
    client, work, secret = served
    attacks = {"plain": str(secret), "dotdot": str(work / "shared" / ".." / "private" / "secret.png"),
               "symlink": str(work / "shared" / "link.png"), "relative": os.path.relpath(secret)}
    r = client.post(f"/collections/{NAME}/add", json={"documents": [
        {"id": f"attack-{name}", "text": "a picture", "metadata": {"image": True, "path": path}}
        for name, path in attacks.items()]})
    assert r.status_code == 201, r.text
    for name in attacks:
        got = client.get(f"/collections/{NAME}/thumbnails/attack-{name}")
        assert got.status_code == 404, (name, got.status_code)
        assert not thumbnail_file(work, f"attack-{name}").exists()


def test_legitimate_thumbnails_still_work(served):
    client, work, _ = served
    for doc_id in ("shared", "outside"):  # cached when the owner added them
        got = client.get(f"/collections/{NAME}/thumbnails/{doc_id}")
        assert got.status_code == 200 and got.headers["content-type"] == "image/webp" and got.content[8:12] == b"WEBP"
    thumbnail_file(work, "shared").unlink()  # made again from its file: under --image-root
    assert client.get(f"/collections/{NAME}/thumbnails/shared").status_code == 200
    assert thumbnail_file(work, "shared").is_file()
    thumbnail_file(work, "outside").unlink()  # its file is under no root: not read by the server
    assert client.get(f"/collections/{NAME}/thumbnails/outside").status_code == 404


def test_uploads_are_the_collections_own_files(served):
    client, work, _ = served
    raw = picture(work / "upload.png", (90, 90, 90)).read_bytes()
    r = client.post(f"/collections/{NAME}/images", json={"images": [
        {"data": base64.b64encode(raw).decode(), "id": "up", "filename": "grey.png"}]})
    assert r.status_code == 200 and r.json()["ids"] == ["up"]
    thumbnail_file(work, "up").unlink()  # made again from the content-addressed copy in the collection
    assert client.get(f"/collections/{NAME}/thumbnails/up").status_code == 200


def test_an_upload_is_found_in_a_restored_copy(served):
    """Its metadata names the file where it was uploaded; a copy restored elsewhere
    makes its thumbnail from its own upload folder, and reads nothing outside it."""
    _, work, _ = served
    with embkit.open(work / NAME) as col:
        col.snapshot(work / "snap")
    with embkit.restore(work / "snap", work / "restored") as copy:
        restored_thumb = work / "restored" / "thumbnails" / thumbnail_file(work, "up").name
        restored_thumb.unlink(missing_ok=True)
        assert copy.thumbnail("up", roots=[]) == restored_thumb and restored_thumb.is_file()
        (work / "restored" / "thumbnails" / thumbnail_file(work, "shared").name).unlink()
        assert copy.thumbnail("shared", roots=[]) is None  # not an upload, and under no root of this caller


def test_a_nul_in_an_uploaded_filename_is_a_422(served):
    client, work, _ = served
    raw = picture(work / "nul.png", (10, 20, 30)).read_bytes()
    uploads = work / NAME / "images"
    kept = sorted(uploads.iterdir()) if uploads.is_dir() else []
    for filename in ("a.p\u0000ng", "a\u0000.png"):  # in the suffix it reached the file system: a 500
        r = client.post(f"/collections/{NAME}/images", json={"images": [
            {"data": base64.b64encode(raw).decode(), "id": "nul", "filename": filename}]})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["message"] == "images[0].filename: contains a NUL character"
    assert (sorted(uploads.iterdir()) if uploads.is_dir() else []) == kept
    assert client.post(f"/collections/{NAME}/get", json={"ids": ["nul"]}).json() == {"documents": []}
