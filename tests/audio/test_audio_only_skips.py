"""What an audio collection says of the files it cannot take (review of issue 25): a text
file in an audio-only collection's folder is "not audio", not "not an image"; sync of
an audio-only collection says what it holds; sync of a text collection passes sounds
over as audio files (not as unknown formats); resampling keeps one copy of a clip."""

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("torch")
sf = pytest.importorskip("soundfile")

import embkit  # noqa: E402
from embkit.encoders.audio_decode import resample  # noqa: E402
from embkit.errors import EmbkitError  # noqa: E402
from embkit.ingest.skips import not_held, summary  # noqa: E402

from clap_maker import SAMPLE_RATE, make_tiny_clap  # noqa: E402


@pytest.fixture(scope="module")
def clap(tmp_path_factory) -> Path:
    return make_tiny_clap(tmp_path_factory.mktemp("clap") / "tiny-clap")


def _tone(seconds: float) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * 440 * np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE)).astype(np.float32)


def test_a_text_file_in_an_audio_collection_is_not_audio(clap, tmp_path):
    folder = tmp_path / "sounds"
    folder.mkdir()
    sf.write(folder / "tone.wav", _tone(0.5), SAMPLE_RATE)
    (folder / "notes.txt").write_text("a note about the recording")
    with embkit.create(tmp_path / "col", model=f"{clap}#audio") as col:
        done = col.add_files([str(folder)])
        assert done.ids == [str(folder / "tone.wav")]
        assert [(s.path, s.reason, s.kind) for s in done.skipped] == [
            (str(folder / "notes.txt"), "not audio (the collection holds audio only)", "not audio")]
        assert summary(done.skipped) == ("skipped 1 file: 1 non-audio file (the collection holds audio only); "
                                         "--verbose lists them")
        with pytest.raises(EmbkitError, match=r"^folder: the collection holds audio only; sync mirrors text files$"):
            col.sync(folder)
        assert col.count() == 1


def test_what_a_collection_without_a_text_space_holds():
    assert not_held("a.txt", ["image"]) == ("a.txt", "not an image (the collection holds images only)", "not an image")
    assert not_held("a.txt", ["image", "audio"]) == (
        "a.txt", "neither an image nor audio (the collection holds images and audio only)", "not media")
    assert summary([not_held("a.txt", ["audio", "image"])] * 2, verbose=True) == (
        "skipped 2 files: 2 files neither image nor audio (the collection holds images and audio only)")


def test_sync_of_a_text_collection_passes_sounds_over_as_audio(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("words about birds")
    sf.write(folder / "call.flac", _tone(0.2), SAMPLE_RATE)
    with embkit.create(tmp_path / "col", model="minilm") as col:
        done = col.sync(folder)
        assert [(s.path, s.kind) for s in done.skipped] == [(f"{folder}/call.flac", "audio")]
        assert done.skipped[0].reason == "an audio file (sync reads text files; add sounds with embkit add)"
        assert col.count() == 1


def test_resampling_keeps_one_copy_of_the_clip():
    clip = np.zeros(44100 * 10, dtype=np.float32)
    resample(clip[:4410], 44100, 48000)  # scipy's import is not the clip's
    tracemalloc.start()
    out = resample(clip, 44100, 48000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert out.dtype == np.float32 and len(out) == 480000
    assert peak < 1.5 * out.nbytes  # not the resampler's output and a float32 copy of it (2x)


def test_the_http_files_route_passes_sounds_over_as_audio():
    from embkit.ingest.uploads import Upload, prepare_uploads

    prepared, skipped = prepare_uploads("minilm", "notes", [Upload("a.txt", b"words about birds"),
                                                            Upload("calls/owl.ogg", b"OggS not really")])
    assert [(s.path, s.reason, s.kind) for s in skipped] == [
        ("notes/calls/owl.ogg", "an audio file (this route reads text files; add sounds with embkit add)", "audio")]


def test_add_audio_model_gives_a_text_collection_an_audio_space(clap, tmp_path):
    from typer.testing import CliRunner

    from embkit.cli import app

    folder = tmp_path / "field"
    folder.mkdir()
    sf.write(folder / "tone.wav", _tone(0.5), SAMPLE_RATE)
    (folder / "notes.txt").write_text("a note about the recording")
    runner, col = CliRunner(), str(tmp_path / "col")
    assert runner.invoke(app, ["init", col, "--model", "minilm"]).exit_code == 0
    wrong = runner.invoke(app, ["add", col, str(folder), "--audio-model", "minilm"])
    assert wrong.exit_code == 1 and str(wrong.exception) == (
        "audio_model: 'minilm' embeds text, not audio, and has no paired audio tower")
    with embkit.open(col) as opened:
        assert opened.count() == 0 and list(opened.spaces) == ["text"]  # nothing written
    done = runner.invoke(app, ["add", col, str(folder), "--audio-model", f"{clap}#audio"])
    assert done.exit_code == 0, done.output
    with embkit.open(col) as opened:
        assert sorted(opened.spaces) == ["audio", "text"]
        assert opened.in_space("audio").space.model == f"{clap.resolve()}#audio"
        assert sorted(r.id for r in opened.get([str(folder / "tone.wav"), str(folder / "notes.txt")])) == [
            str(folder / "notes.txt"), str(folder / "tone.wav")]


def test_init_audio_model_makes_text_and_audio_spaces_on_both_backends(backend, clap, tmp_path):
    from typer.testing import CliRunner

    from embkit.cli import app

    folder = tmp_path / "field"
    folder.mkdir()
    sf.write(folder / "tone.wav", _tone(0.5), SAMPLE_RATE)
    (folder / "notes.txt").write_text("a note about the recording")
    location = backend("sounds_and_notes")
    made = CliRunner().invoke(app, ["init", str(location), "--model", "minilm", "--audio-model", str(clap), "--json"])
    assert made.exit_code == 0, made.output
    with embkit.open(location) as col:
        assert sorted(col.spaces) == ["audio", "text"]
        assert col.in_space("audio").space.model == f"{clap.resolve()}#audio"  # the CLAP text tower's pair
        done = col.add_files([str(folder)])
        assert sorted(done.ids) == [str(folder / "notes.txt"), str(folder / "tone.wav")] and done.skipped == []
    with pytest.raises(EmbkitError, match="audio_model: model .* is an audio tower already"):
        embkit.create(tmp_path / "twice", model=f"{clap}#audio", audio_model=str(clap))


def _without_first_frame(mp3: bytes) -> bytes:
    """The file without its first frame: the Xing/LAME header that states its length."""
    header = int.from_bytes(mp3[:4], "big")
    kbps = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)[(header >> 12) & 15]
    assert header >> 21 == 0x7FF and (b"Xing" in mp3[:200] or b"Info" in mp3[:200])
    return mp3[144 * kbps * 1000 // 44100 + ((header >> 9) & 1):]


def test_an_mp3_that_libsndfile_decodes_only_in_part_is_refused(tmp_path):
    from embkit.ingest.audio_files import read_audio

    noise = 0.3 * np.random.default_rng(1).standard_normal((44100 * 5, 2)).astype(np.float32)
    sf.write(tmp_path / "whole.mp3", noise, 44100)  # VBR, with a Xing header stating its length
    whole = (tmp_path / "whole.mp3").read_bytes()
    tagged = tmp_path / "tagged.mp3"  # an ID3v2 tag before the frames
    tagged.write_bytes(b"ID3\x03\x00\x00\x00\x00\x01\x00" + bytes(128) + whole)
    assert read_audio(tagged, 44100).metadata["duration_s"] == 5.0
    assert len(read_audio(tmp_path / "whole.mp3", 44100).samples) == 44100 * 5
    (tmp_path / "headless.mp3").write_bytes(_without_first_frame(whole))  # libsndfile guesses 2.3 s
    (tmp_path / "joined.mp3").write_bytes(whole + whole)  # the first header says 5 s
    for name, says in (("headless.mp3", "decodes to 2.3 s of the 5.0 s"),
                       ("joined.mp3", "decodes to 5.0 s of the 10.1 s")):
        with pytest.raises(EmbkitError) as caught:
            read_audio(tmp_path / name, 44100)
        assert str(caught.value) == (f"audio: {tmp_path / name} {says} its frames hold (an mp3 without a right "
                                     "length header, or files joined; re-encode it)")


def test_the_http_files_route_says_an_audio_collection_holds_audio(clap, tmp_path):
    import base64

    from live_server import LiveServer

    embkit.create(tmp_path / "sounds", model=f"{clap}#audio").close()
    server = LiveServer([str(tmp_path / "sounds"), "--no-auth"], tmp_path / "server.log",
                        env={"HF_HUB_OFFLINE": "1"})
    try:
        with server.client() as client:
            refused = client.post("/collections/sounds/files", json={"folder": "notes", "files": [
                {"path": "a.txt", "data": base64.b64encode(b"words").decode()}]})
    finally:
        assert server.stop() == 0
    assert refused.status_code == 422
    assert refused.json()["error"]["message"] == "files: the collection holds audio only; this route reads text files"
