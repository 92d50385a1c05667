"""Search by example sound on a tiny random CLAP saved by the test: `audio=` as a path, a
file's bytes or samples finds the clip itself first (a window of a long file finds that
window), the CLI's `--audio` and `--json` give the same ids and scores as Python, a text
query reaches sounds through the paired text tower in every door, and bad clips
(corrupt, empty, not audio, too long, of the wrong kind, in a space with no audio
tower) are refused in one line naming `audio` and the limit."""

import json
import re

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("torch")
sf = pytest.importorskip("soundfile")

import embkit  # noqa: E402
from embkit.errors import EmbkitError  # noqa: E402
from embkit.search.query_audio import MAX_QUERY_SECONDS  # noqa: E402

from clap_maker import SAMPLE_RATE, make_tiny_clap  # noqa: E402
from live_server import embkit_cli  # noqa: E402
from test_audio_collections import make_sounds  # noqa: E402


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    """A collection of the CLAP text tower whose sounds land in its paired `audio` space."""
    work = tmp_path_factory.mktemp("audio-search")
    clap = make_tiny_clap(work / "tiny-clap")
    sounds = make_sounds(work / "sounds")
    with embkit.create(work / "col", model=f"{clap}#audio") as col:
        col.add_audio([str(p) for p in sounds.values()])
    return work / "col", sounds, clap


def _run(*args):
    from typer.testing import CliRunner

    from embkit.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def test_a_clip_finds_itself_by_path_bytes_and_samples(collection):
    path, sounds, _ = collection
    with embkit.open(path) as col:
        for name, sound in sounds.items():
            if name == "long.wav":
                continue
            by_path = col.search(audio=str(sound), k=3)
            assert by_path[0].id == str(sound)
            by_bytes = col.search(audio=sound.read_bytes(), k=3)
            assert [(h.id, round(h.score, 5)) for h in by_bytes] == [(h.id, round(h.score, 5)) for h in by_path]
        samples, rate = sf.read(sounds["tone.wav"], dtype="float32")
        assert rate == SAMPLE_RATE and col.search(audio=samples, k=1)[0].id == str(sounds["tone.wav"])
        window = sf.read(sounds["long.wav"], dtype="float32")[0][SAMPLE_RATE * 3 // 4:SAMPLE_RATE * 7 // 4]
        hit = col.search(audio=window, k=1)[0]  # a window of a long file: the hit points into it
        assert hit.id == f"{sounds['long.wav']}#1"
        assert (hit.metadata["start"], hit.metadata["end"]) == (0.75, 1.75)


def test_the_cli_gives_the_same_hits_as_python(collection):
    path, sounds, _ = collection
    with embkit.open(path) as col:
        by_audio = [(h.id, round(h.score, 5)) for h in col.search(audio=str(sounds["noise.ogg"]), k=4)]
        by_text = [(h.id, round(h.score, 5)) for h in col.search("a dog barking", k=4)]
    done = _run("search", path, "--audio", sounds["noise.ogg"], "-k", "4", "--json")
    assert done.exit_code == 0, done.output
    assert [(h["id"], round(h["score"], 5)) for h in json.loads(done.stdout)["hits"]] == by_audio
    done = _run("search", path, "a dog barking", "-k", "4", "--json")
    assert [(h["id"], round(h["score"], 5)) for h in json.loads(done.stdout)["hits"]] == by_text
    plain = _run("search", path, "--audio", sounds["long.wav"], "-k", "5")
    assert plain.exit_code == 0 and "[audio 0-1 s of 2.5 s, wav]" in plain.stdout  # the window a hit matched


def test_bad_clips_are_refused_in_one_line(collection, tmp_path):
    path, sounds, _ = collection
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(40)))
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.wav"
    text.write_text("not a sound at all, just words\n" * 20)
    long = tmp_path / "long.flac"
    sf.write(long, np.zeros(8000 * (MAX_QUERY_SECONDS + 1), dtype=np.float32), 8000)
    cases = {corrupt: f"audio: {corrupt} is not a readable audio file",
             empty: f"audio: {empty} is empty (0 bytes)",
             text: f"audio: {text} is not a readable audio file",
             long: f"audio: the query clip lasts {MAX_QUERY_SECONDS + 1}.0 s, more than the limit of "
                   f"{MAX_QUERY_SECONDS} s",
             tmp_path / "missing.wav": f"audio: {tmp_path / 'missing.wav'} not found"}
    with embkit.open(path) as col:
        for clip, message in cases.items():
            with pytest.raises(EmbkitError, match="^" + re.escape(message)):
                col.search(audio=str(clip))
        with pytest.raises(EmbkitError, match=r"^audio: the clip given is empty \(0 bytes\)"):
            col.search(audio=b"")
        with pytest.raises(EmbkitError, match="^audio: the query clip lasts 61.0 s, more than the limit of 60 s"):
            col.search(audio=long.read_bytes())
        with pytest.raises(EmbkitError, match="^audio: expected an audio file path, a file's bytes or an array"):
            col.search(audio=42)
        with pytest.raises(EmbkitError, match=r"^mode: an audio query searches by meaning only \(mode 'dense'\)"):
            col.search(audio=str(sounds["tone.wav"]), mode="hybrid")
        with pytest.raises(EmbkitError, match="^query: give exactly one of"):
            col.search("a tone", audio=str(sounds["tone.wav"]))
    for clip in (corrupt, long):  # the real command: one line on stderr, exit 1
        done = embkit_cli("search", str(path), "--audio", str(clip), env={"HF_HUB_OFFLINE": "1"})
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"error: {cases[clip]}")


def test_a_space_without_an_audio_tower_refuses_audio(tmp_path, collection):
    _, sounds, _ = collection
    with embkit.create(tmp_path / "texts", model="minilm") as col:
        col.add(["a dog barking"], ids=["t"])
        with pytest.raises(EmbkitError, match="^audio: space 'text' .* has no paired audio encoder"):
            col.search(audio=str(sounds["tone.wav"]))


def test_a_clip_searches_the_audio_space_beside_text_unless_a_space_is_named(collection, tmp_path):
    _, sounds, clap = collection
    with embkit.create(tmp_path / "both", model=str(clap)) as col:  # the text tower: sounds go to `audio`
        col.add_files([str(sounds["tone.wav"].parent)])
        assert sorted(col.spaces) == ["audio", "text"]
        assert col.search(audio=str(sounds["tone.wav"]), k=1)[0].id == str(sounds["tone.wav"])
        assert col.search(audio=str(sounds["tone.wav"]), k=1, space="text") == []  # as named: no sounds there
        by_text = col.search("a dog barking", k=2, space="audio")
    done = _run("search", tmp_path / "both", "--audio", sounds["tone.wav"], "-k", "1", "--json")
    assert [h["id"] for h in json.loads(done.stdout)["hits"]] == [str(sounds["tone.wav"])]
    done = _run("search", tmp_path / "both", "--audio", sounds["tone.wav"], "--space", "text", "--json")
    assert json.loads(done.stdout)["hits"] == []
    done = _run("search", tmp_path / "both", "a dog barking", "-k", "2", "--space", "audio", "--json")
    assert [(h["id"], round(h["score"], 5)) for h in json.loads(done.stdout)["hits"]] == [
        (h.id, round(h.score, 5)) for h in by_text]
