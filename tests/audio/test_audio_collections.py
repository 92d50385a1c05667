"""Audio collections on a tiny random CLAP saved by the test and clips made with numpy and
espeak-ng: one document per file with its metadata; a clip longer than the model's
window stored as overlapping windows, the document's chunks with their offsets in
seconds; every clip finds itself first; a text query reaches sounds through the text
tower; corrupt, empty, truncated and non-audio files in a folder are skipped with a
warning while the rest land (exit 3); upsert replaces a document's windows; both
store backends."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("torch")
sf = pytest.importorskip("soundfile")

import embkit  # noqa: E402
from embkit.errors import EmbkitError  # noqa: E402

from clap_maker import SAMPLE_RATE, make_tiny_clap  # noqa: E402


@pytest.fixture(scope="module")
def clap(tmp_path_factory) -> Path:
    return make_tiny_clap(tmp_path_factory.mktemp("clap") / "tiny-clap")


def _tone(rate: int, seconds: float, hz: float) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * hz * np.arange(int(rate * seconds)) / rate)).astype(np.float32)


def make_sounds(folder: Path) -> dict[str, Path]:
    """Short clips of every kind, and a 2.5 s one (the tiny model's window is 1 s)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    made = {"tone.wav": (_tone(SAMPLE_RATE, 0.6, 440), SAMPLE_RATE),
            "noise.ogg": (0.3 * rng.standard_normal(9000).astype(np.float32), SAMPLE_RATE),
            "stereo.flac": (np.stack([_tone(44100, 0.5, 300), _tone(44100, 0.5, 900)], axis=1), 44100),
            "low.mp3": (_tone(8000, 0.8, 600), 8000),
            "long.wav": (np.concatenate([_tone(SAMPLE_RATE, 1.0, 250), rng.standard_normal(SAMPLE_RATE) * 0.2,
                                         _tone(SAMPLE_RATE, 0.5, 3000)]).astype(np.float32), SAMPLE_RATE)}
    paths = {}
    for name, (samples, rate) in made.items():
        sf.write(folder / name, samples, rate)
        paths[name] = folder / name
    if shutil.which("espeak-ng"):
        paths["seven.wav"] = folder / "seven.wav"
        subprocess.run(["espeak-ng", "-w", str(paths["seven.wav"]), "-v", "en", "seven"], check=True,
                       capture_output=True)
    return paths


def test_files_land_as_documents_and_long_clips_as_windows(clap, tmp_path):
    sounds = make_sounds(tmp_path / "sounds")
    with embkit.create(tmp_path / "col", model=f"{clap}#audio") as col:
        assert list(col.spaces) == ["audio"] and col.space.model.endswith("#audio")
        ids, skipped = col.add_audio([str(p) for p in sounds.values()])
        assert ids == [str(p) for p in sounds.values()] and skipped == []
        assert col.count(unit="document") == len(sounds) and col.count() == len(sounds) - 1 + 3
        long = str(sounds["long.wav"])
        chunks = col.get([f"{long}#{i}" for i in range(4)])  # #3 does not exist
        # 2.5 s in 1 s windows overlapping by at least a quarter: the fewest, spread evenly from 0 to 1.5 s
        assert [(c.metadata["start"], c.metadata["end"]) for c in chunks] == [(0.0, 1.0), (0.75, 1.75), (1.5, 2.5)]
        assert [(c.metadata["parent"], c.metadata["chunk"]) for c in chunks] == [(long, i) for i in range(3)]
        stereo = col.get([str(sounds["stereo.flac"])])[0].metadata
        assert stereo == {"path": str(sounds["stereo.flac"]), "bytes": sounds["stereo.flac"].stat().st_size,
                          "duration_s": 0.5, "sample_rate": 44100, "channels": 2, "format": "flac",
                          "start": 0.0, "end": 0.5, "parent": str(sounds["stereo.flac"])}
        wholes = col.get([str(p) for name, p in sounds.items() if name != "long.wav"])
        assert [(w.metadata["start"], w.metadata["end"]) for w in wholes] == [  # never past the file's end
            (0.0, w.metadata["duration_s"]) for w in wholes]
        tower = embkit.load_encoder(f"{clap}#audio")
        for name, path in sounds.items():  # every clip finds itself first
            if name != "long.wav":
                assert col.search(vector=tower.encode([path])[0], k=1)[0].id == str(path)
        window = sf.read(sounds["long.wav"], dtype="float32")[0][SAMPLE_RATE * 3 // 4:SAMPLE_RATE * 7 // 4]
        assert col.search(vector=tower.encode([window])[0], k=1)[0].id == f"{long}#1"
        by_text = col.search("a high whistle", k=3)  # through the paired text tower
        assert len(by_text) == 3 and all(h.score <= 1.0001 for h in by_text)


def test_a_folder_with_bad_files_lands_the_rest_and_exits_3(clap, tmp_path):
    from typer.testing import CliRunner

    from embkit.cli import app

    sounds = make_sounds(tmp_path / "sounds")
    (tmp_path / "sounds" / "junk.wav").write_bytes(np.random.default_rng(1).bytes(4000))
    (tmp_path / "sounds" / "empty.ogg").write_bytes(b"")
    good = sounds["tone.wav"].read_bytes()
    (tmp_path / "sounds" / "cut.wav").write_bytes(good[: len(good) // 2])
    (tmp_path / "sounds" / "text.mp3").write_text("not audio at all\n" * 20)
    (tmp_path / "sounds" / "notes.txt").write_text("a note about the recordings")
    from PIL import Image

    Image.new("RGB", (8, 8), (200, 0, 0)).save(tmp_path / "sounds" / "cover.png")  # no image tower: skipped
    runner, col = CliRunner(), str(tmp_path / "col")
    assert runner.invoke(app, ["init", col, "--model", str(clap)]).exit_code == 0  # the text tower
    done = runner.invoke(app, ["add", col, str(tmp_path / "sounds"), "--json", "--verbose"])
    assert done.exit_code == 3, done.output
    summary = json.loads(done.stdout)
    assert summary["audio"]["audio"] == len(sounds) and summary["texts"]["documents"] == 1
    bad = {Path(s["file"]).name: s["reason"] for s in summary["audio"]["skipped"]}
    assert sorted(bad) == ["cut.wav", "empty.ogg", "junk.wav", "text.mp3"]
    assert bad["empty.ogg"] == "is empty (0 bytes)" and bad["cut.wav"].startswith("is truncated (its header")
    assert "warning: skipped 5 files: 1 image (no image space; add one with --image-model), " \
           "4 unreadable files" in done.stderr
    with embkit.open(col) as opened:
        assert sorted(opened.spaces) == ["audio", "text"]
        assert opened.count(unit="document") == len(sounds) + 1  # documents of every space
        assert [h.id for h in opened.search("recordings", k=5)] == [str(tmp_path / "sounds" / "notes.txt")]


def test_upsert_replaces_a_documents_windows_and_a_text_collection_refuses_sounds(clap, tmp_path):
    sounds = make_sounds(tmp_path / "sounds")
    with embkit.create(tmp_path / "col", model=f"{clap}#audio") as col:
        col.add_audio([str(sounds["long.wav"])], ids=["clip"])
        assert col.count() == 3
        with pytest.raises(EmbkitError, match="'clip' exists already"):
            col.add_audio([str(sounds["tone.wav"])], ids=["clip"])
        col.add_audio([str(sounds["tone.wav"])], ids=["clip"], upsert=True)
        assert col.count() == 1 and col.get(["clip"])[0].metadata["duration_s"] == 0.6
        assert col.get(["clip#0", "clip#2"]) == []
    with embkit.create(tmp_path / "texts", model="minilm") as col:
        (tmp_path / "note.txt").write_text("a note")
        with pytest.raises(EmbkitError, match="no audio space and its model no audio tower"):
            col.add_files([str(tmp_path / "note.txt"), str(sounds["tone.wav"])])
        assert col.count() == 0  # refused before anything was written
    (tmp_path / "sounds" / "a.txt").write_text("words")
    with embkit.open(tmp_path / "texts") as col:
        done = col.add_files([str(tmp_path / "sounds")])
        assert done.ids == [str(tmp_path / "sounds" / "a.txt")]
        assert {s.kind for s in done.skipped} == {"audio"} and len(done.skipped) == len(sounds)
        assert "audio files (no audio space" in done.summary


def test_audio_space_on_both_backends(backend, clap, tmp_path):
    sounds = make_sounds(tmp_path / "sounds")
    location = backend("sounds")
    with embkit.create(location, model="minilm") as col:
        col.add(["a note"], ids=["note"])
        col.add_space("audio", str(clap))
        ids, skipped = col.add_audio([str(sounds["tone.wav"]), str(sounds["long.wav"])])
        assert not skipped and col.count() == 1 + 1 + 3
    with embkit.open(location) as col:
        assert sorted(col.spaces) == ["audio", "text"]
        tower = embkit.load_encoder(f"{clap}#audio")
        assert col.search(vector=tower.encode([sounds["tone.wav"]])[0], space="audio", k=1)[0].id == str(
            sounds["tone.wav"])
        assert [h.id for h in col.search("a note", k=5)] == ["note"]
        assert len(col.search("a tone", k=10, space="audio")) == 4
