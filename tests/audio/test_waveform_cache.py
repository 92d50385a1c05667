"""The waveform drawings a collection keeps for result pages (audio_media.waveform) are
pruned: a file's new content replaces its old drawing, and beyond WAVEFORM_CAP the least
recently shown go first (a deleted document's among them). They stayed forever."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("torch")
sf = pytest.importorskip("soundfile")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import embkit  # noqa: E402
from embkit import audio_media  # noqa: E402

from clap_maker import make_tiny_clap  # noqa: E402
from test_audio_collections import make_sounds  # noqa: E402


def test_waveforms_of_replaced_files_and_beyond_the_cap_are_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(audio_media, "WAVEFORM_CAP", 2)
    clap = make_tiny_clap(tmp_path / "tiny-clap")
    sounds = {name: str(path) for name, path in make_sounds(tmp_path / "library").items()}
    folder = tmp_path / "sounds"
    cache = folder / audio_media.WAVEFORMS
    with embkit.create(folder, model=f"{clap}#audio") as col:
        col.add_audio([sounds[name] for name in ("tone.wav", "noise.ogg", "stereo.flac", "low.mp3")])
        drawings = {}

        def draw(name: str) -> str:
            """The name of the drawing kept for `name`, shown now; every drawing is given
            an mtime of its own first (the order the pruning follows, without ties)."""
            for age, path in enumerate(sorted(cache.glob("*.svg"), key=lambda p: p.stat().st_mtime_ns)):
                os.utime(path, ns=(10 ** 9 * (age + 1),) * 2)
            before = set(os.listdir(cache)) if cache.is_dir() else set()
            assert col.waveform(sounds[name]).startswith(b"<svg")
            added = set(os.listdir(cache)) - before
            if added:  # else shown from the cache
                (drawings[name],) = added
            return drawings[name]

        tone, noise = draw("tone.wav"), draw("noise.ogg")
        assert set(os.listdir(cache)) == {tone, noise}
        assert draw("tone.wav") == tone  # shown again (from the cache): now the most recent
        stereo = draw("stereo.flac")  # a third drawing: the least recently shown (noise) goes
        assert set(os.listdir(cache)) == {tone, stereo}
        assert draw("noise.ogg") != stereo  # drawn again; tone now the least recent
        assert set(os.listdir(cache)) == {stereo, drawings["noise.ogg"]}

        sf.write(sounds["stereo.flac"], np.zeros(4000, np.float32), 16000)  # new content under the same name
        new_stereo = draw("stereo.flac")
        assert new_stereo != stereo and new_stereo.split("-")[0] == stereo.split("-")[0]
        assert set(os.listdir(cache)) == {new_stereo, drawings["noise.ogg"]}

        col.delete([sounds["noise.ogg"]])  # its drawing outlives it until the cap needs the room
        low = draw("low.mp3")
        assert set(os.listdir(cache)) == {new_stereo, low}


def test_a_drawing_pruned_while_shown_is_drawn_again_not_kept_empty(tmp_path, monkeypatch):
    """Another request's pruning may remove a drawing between its read and the mark of its
    showing: the mark (touch) created it again empty, served (200, no body) and never pruned."""
    clap = make_tiny_clap(tmp_path / "tiny-clap")
    tone = str(make_sounds(tmp_path / "library")["tone.wav"])
    with embkit.create(tmp_path / "sounds", model=f"{clap}#audio") as col:
        col.add_audio([tone])
        first = col.waveform(tone)
        (kept,) = (col.path / audio_media.WAVEFORMS).glob("*.svg")
        mark = audio_media._touch

        def pruned_meanwhile(path):  # what _prune in another thread does at that moment
            path.unlink()
            mark(path)

        monkeypatch.setattr(audio_media, "_touch", pruned_meanwhile)
        assert col.waveform(tone) == first  # read before the prune
        assert not kept.exists()
        monkeypatch.setattr(audio_media, "_touch", mark)
        assert col.waveform(tone) == first and kept.read_bytes() == first  # drawn again
        kept.write_bytes(b"")  # an empty drawing (left by an older version) is drawn again too
        assert col.waveform(tone) == first and kept.read_bytes() == first
