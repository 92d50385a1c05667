"""The audio routes against a client that writes metadata: a record whose `path` climbs
out of the served --audio-root with `..`, through a symlink inside it, names a folder,
or borrows an upload's hash name is neither played nor drawn (404), and a key for
another collection reads no sound (403). A real `embkit serve` over a tiny random CLAP."""

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("torch")
sf = pytest.importorskip("soundfile")

import embkit  # noqa: E402

from clap_maker import make_tiny_clap  # noqa: E402
from live_server import LiveServer, create_key  # noqa: E402


def _sound(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.sin(np.arange(8000) / 3).astype(np.float32), 16000)
    return path


def test_metadata_paths_never_leave_the_audio_root(tmp_path):
    clap = make_tiny_clap(tmp_path / "tiny-clap")
    root, secret = tmp_path / "library", _sound(tmp_path / "private" / "secret.wav")
    inside = _sound(root / "in.wav")
    (root / "link.wav").symlink_to(secret)
    (root / "dirlink").symlink_to(secret.parent, target_is_directory=True)
    paths = {"inside": str(inside), "dotdot": str(root / ".." / "private" / "secret.wav"),
             "symlink": str(root / "link.wav"), "through-dir-link": str(root / "dirlink" / "secret.wav"),
             "folder": str(root), "relative": os.path.relpath(secret),
             "upload-name": str(secret.parent / ("0" * 40 + ".wav"))}
    (secret.parent / ("0" * 40 + ".wav")).write_bytes(secret.read_bytes())
    with embkit.create(tmp_path / "sounds", model=f"{clap}#audio") as col:
        dim = col.space.dim
        col.add(ids=list(paths), vectors=np.eye(len(paths), dim, dtype=np.float32) + 0.1,
                metadatas=[{"path": p, "duration_s": 0.5, "sample_rate": 16000, "start": 0.0, "end": 0.5}
                           for p in paths.values()])
    with embkit.create(tmp_path / "other", model=None, dim=4):
        pass
    keys = tmp_path / "keys.json"
    read, other = create_key(keys, "read", "sounds"), create_key(keys, "admin", "other")
    server = LiveServer([str(tmp_path / "sounds"), str(tmp_path / "other"), "--keys-file", str(keys),
                         "--audio-root", str(root)], tmp_path / "server.log", env={"HF_HUB_OFFLINE": "1"})
    try:
        with server.client(read) as http:
            status = {(doc, route): http.get(f"/collections/sounds/{route}/{doc}").status_code
                      for doc in paths for route in ("audio", "waveforms")}
            assert http.get("/collections/sounds/audio/inside").content == inside.read_bytes()
        assert status == {(doc, route): 200 if doc == "inside" else 404 for doc in paths
                          for route in ("audio", "waveforms")}
        with server.client(other) as http:
            assert [http.get(f"/collections/sounds/{route}/inside").status_code
                    for route in ("audio", "waveforms")] == [403, 403]
    finally:
        server.stop()
