"""Sound files uploaded over HTTP (`POST /collections/{name}/audio`) to a real `embkit
serve` on a tiny random CLAP saved by the test: the same clips give the same documents
(ids, metadata, windows) and vectors as `Collection.add_audio`; the upload is kept in the
collection's folder and plays through the audio route with no --audio-root; a bad file
(not base64, empty, not audio, truncated, too long, too big a body) is a 4xx in one line
naming its field and changes nothing; reading keys cannot upload."""

import base64
import hashlib
import io

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("torch")
sf = pytest.importorskip("soundfile")

import embkit  # noqa: E402
from embkit.server.audio_upload import MAX_UPLOAD_SAMPLES, MAX_UPLOAD_SECONDS  # noqa: E402

from clap_maker import make_tiny_clap  # noqa: E402
from live_server import LiveServer, create_key  # noqa: E402
from test_audio_collections import make_sounds  # noqa: E402

NAME = "uploads"
MAX_BODY = 1_000_000


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A served empty audio collection, and the records `add_audio` makes of the same
    clips (ids: the SHA-1 of the bytes, as an upload without an id gets)."""
    work = tmp_path_factory.mktemp("audio-upload")
    clap = make_tiny_clap(work / "tiny-clap")
    sounds = make_sounds(work / "library")
    ids = [hashlib.sha1(p.read_bytes()).hexdigest() for p in sounds.values()]
    with embkit.create(work / "reference", model=f"{clap}#audio") as ref:
        ref.add_audio([str(p) for p in sounds.values()], ids=ids,
                      metadatas=[{"filename": name, "take": 1} for name in sounds])
        expected = ref.get(ids, include_vectors=True)
    embkit.create(work / NAME, model=f"{clap}#audio").close()
    keys = work / "keys.json"
    reader, writer = create_key(keys, "read"), create_key(keys, "write")
    server = LiveServer([str(work / NAME), "--keys-file", str(keys), "--max-body-bytes", str(MAX_BODY)],
                        work / "server.log", env={"HF_HUB_OFFLINE": "1"})
    try:
        yield server, reader, writer, sounds, ids, expected, work / NAME
    finally:
        server.stop()


def _all(http) -> list[str]:
    return sorted(d["id"] for d in http.post(f"/collections/{NAME}/get", json={}).json()["documents"])


def test_an_upload_equals_add_audio_and_plays(served):
    server, reader, writer, sounds, ids, expected, folder = served
    body = {"audio": [{"data": _b64(p.read_bytes()), "filename": name, "metadata": {"take": 1}}
                      for name, p in sounds.items()]}
    with server.client(reader) as http:
        refused = http.post(f"/collections/{NAME}/audio", json=body)
        assert refused.status_code == 403 and _all(http) == []
    with server.client() as anonymous:
        assert anonymous.post(f"/collections/{NAME}/audio", json=body).status_code == 401
    with server.client(writer) as http:
        done = http.post(f"/collections/{NAME}/audio", json=body)
        assert done.status_code == 200, done.text
        assert done.json() == {"ids": ids, "skipped": []}
        got = http.post(f"/collections/{NAME}/get", json={"ids": ids, "include_vectors": True}).json()["documents"]
        assert [d["id"] for d in got] == [d.id for d in expected]  # long.wav as its windows ID#0, ID#1, ID#2
        kept = folder / "sounds"
        for doc, want in zip(got, expected):
            stored = kept / (doc["id"].split("#")[0] + "." + want.metadata["format"])
            assert doc["metadata"] == {**want.metadata, "path": str(stored)}
            np.testing.assert_allclose(doc["vector"], want.vector, atol=1e-6)
        assert sorted(p.name for p in kept.iterdir()) == sorted(
            i + p.suffix for i, p in zip(ids, sounds.values()))
        long_id = ids[list(sounds).index("long.wav")]
        played = http.get(f"/collections/{NAME}/audio/{long_id}%231")  # a window plays its file
        assert played.status_code == 200 and played.headers["content-type"] == "audio/wav"
        assert played.content == sounds["long.wav"].read_bytes()
        mp3 = http.get(f"/collections/{NAME}/audio/{ids[list(sounds).index('low.mp3')]}")
        assert mp3.headers["content-type"] == "audio/mpeg" and mp3.content == sounds["low.mp3"].read_bytes()
        again = http.post(f"/collections/{NAME}/audio", json={"audio": body["audio"][:1]})
        assert again.status_code == 409 and "already exist" in again.json()["error"]["message"]
        assert sorted(p.name for p in kept.iterdir()) == sorted(i + p.suffix for i, p in zip(ids, sounds.values()))


def test_bad_uploads_are_one_line_4xx_and_change_nothing(served, tmp_path):
    server, reader, writer, sounds, ids, expected, folder = served
    good = sounds["tone.wav"].read_bytes()
    long = io.BytesIO()
    sf.write(long, np.zeros(8000 * (MAX_UPLOAD_SECONDS + 1), dtype=np.int16), 8000, format="FLAC")
    dense = io.BytesIO()  # 12 s of 8 channels at 655,350 Hz (a small file of silence): past the samples cap only
    sf.write(dense, np.zeros((655_350 * 12, 8), dtype=np.int16), 655_350, format="FLAC")
    assert 655_350 * 12 * 8 > MAX_UPLOAD_SAMPLES and 12 < MAX_UPLOAD_SECONDS and len(dense.getvalue()) < MAX_BODY
    cases = {"%%%": "audio[1].data: not valid base64",
             "": "audio[1].data: the file given is empty (0 bytes)",
             _b64(b"these bytes are not a sound" * 20): "audio[1].data: not a readable audio file",
             _b64(good[: len(good) // 2]): "audio[1].data: the file is truncated (its header promises",
             _b64(long.getvalue()): f"audio[1].data: the clip lasts {MAX_UPLOAD_SECONDS + 1}.0 s, more than "
                                    f"the limit of {MAX_UPLOAD_SECONDS} s"}
    cases[_b64(dense.getvalue())] = "audio[1].data: the clip holds"
    fresh = _b64(good)
    fresh_clip = io.BytesIO()  # a clip not yet stored rides along with each bad one: it must not land
    sf.write(fresh_clip, np.cos(np.arange(4000) / 7).astype(np.float32), 16000, format="WAV")
    with server.client(writer) as http:
        before, files = _all(http), sorted((folder / "sounds").iterdir()) if (folder / "sounds").exists() else []
        for data, message in cases.items():
            answer = http.post(f"/collections/{NAME}/audio", json={"audio": [
                {"data": _b64(fresh_clip.getvalue()), "id": "fresh"}, {"data": data}]})
            assert answer.status_code == 422, answer.text
            assert answer.json()["error"]["message"].startswith(message), answer.text
            assert "\n" not in answer.json()["error"]["message"]
        big = http.post(f"/collections/{NAME}/audio", json={"audio": [{"data": "A" * MAX_BODY}]})
        assert big.status_code == 413 and big.json()["error"]["limit"] == "max_body_bytes"
        name = http.post(f"/collections/{NAME}/audio", json={"audio": [{"data": fresh, "filename": "x" * 5000}]})
        assert name.status_code == 422 and name.json()["error"]["message"].startswith("audio[0].filename: 5000")
        assert _all(http) == before
        now = sorted((folder / "sounds").iterdir()) if (folder / "sounds").exists() else []
        assert now == files


def test_a_kept_upload_still_plays_after_the_folder_moves(served, tmp_path):
    """Uploads are named by their content's hash: a moved (or restored) collection finds
    its own copy by name, and a path in metadata never reaches outside that folder."""
    server, reader, writer, sounds, ids, expected, folder = served
    clap = folder.parent / "tiny-clap"
    raw = sounds["tone.wav"].read_bytes()
    with embkit.create(tmp_path / "before", model=f"{clap}#audio") as col:
        kept = col.path / "sounds" / (hashlib.sha1(raw).hexdigest() + ".wav")
        kept.parent.mkdir()
        kept.write_bytes(raw)
        col.add_audio([str(kept), str(sounds["noise.ogg"])], ids=["up", "elsewhere"])
    (tmp_path / "before").rename(tmp_path / "after")
    with embkit.open(tmp_path / "after") as col:
        assert col.audio_file("up", roots=[]) == ((tmp_path / "after" / "sounds" / kept.name).resolve(), "audio/wav")
        assert col.audio_file("elsewhere", roots=[]) is None  # not an upload, not under a root
