"""An audio collection served from a read-only mount (tests/namespace.py): the waveform
route draws the picture without keeping it (it answered 500: the cache could not be
written), and the sound file still plays."""

import shlex
import sys
from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("torch")
pytest.importorskip("soundfile")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import embkit  # noqa: E402

import namespace  # noqa: E402
from clap_maker import make_tiny_clap  # noqa: E402
from live_server import LiveServer  # noqa: E402
from test_audio_collections import make_sounds  # noqa: E402

MOUNT_RO = "mount --bind {d} {d} && mount -o remount,bind,ro {d}"


def test_a_read_only_collection_draws_waveforms_uncached(tmp_path):
    reason = namespace.unavailable()
    if reason:
        pytest.skip(f"no mount namespace: no read-only mount can be made ({reason})")
    clap = make_tiny_clap(tmp_path / "tiny-clap")
    sounds = make_sounds(tmp_path / "library")
    folder = tmp_path / "sounds"
    with embkit.create(folder, model=f"{clap}#audio") as col:
        col.add_audio([str(sounds["long.wav"])])
    with embkit.open(folder) as col:
        drawn = col.waveform(str(sounds["long.wav"]))  # the same picture, drawn where it can be kept
    (cached,) = (folder / "waveforms").iterdir()
    cached.unlink()
    mount = namespace.wrap(MOUNT_RO.format(d=shlex.quote(str(folder))))
    server = LiveServer([str(folder), "--no-auth", "--audio-root", str(tmp_path / "library")],
                        tmp_path / "server.log", env={"HF_HUB_OFFLINE": "1"}, prefix=mount)
    try:
        with server.client() as http:
            for _ in range(2):  # drawn each time: nothing kept
                wave = http.get(f"/collections/sounds/waveforms/{sounds['long.wav']}%231")
                assert (wave.status_code, wave.headers["content-type"]) == (200, "image/svg+xml")
                assert wave.content == drawn
            played = http.get(f"/collections/sounds/audio/{sounds['long.wav']}%231")
            assert played.status_code == 200 and played.content == sounds["long.wav"].read_bytes()
    finally:
        server.stop()
    assert list((folder / "waveforms").iterdir()) == []
