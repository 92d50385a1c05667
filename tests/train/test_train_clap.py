"""`embkit train clap` on spoken words synthesized by espeak-ng, a test-sized run (5
words, 16 voices in 4 accents each, 4 voices held out whole): held-out zero-shot accuracy by text prompt
and text→audio recall@10 go from chance to far above it; the saved model loads as a
registered two-tower model (`NAME`, `NAME#audio`) that embeds every clip, by path or as
samples; an interrupted run resumes from its checkpoint; bad input names its field and
writes nothing."""

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("soundfile")

import embkit  # noqa: E402
from embkit.errors import EmbkitError  # noqa: E402
from embkit.train.clap import train_clap  # noqa: E402
from embkit.train.speech import PROMPT, plan, write_speech  # noqa: E402

SMALL = {"epochs": 20, "batch_size": 32, "widths": (8, 16, 32, 64), "threads": 1}  # the test-sized model
# The scored run: 4 accents per voice (240 training clips, 80 held out) and small batches.
# Its held-out zero-shot accuracy at seeds 0-9: 0.8875-0.9375 (20 epochs of batch 32 on
# 2 accents: 0.75-0.875 at seeds 0-4; a score over 40 clips moves by 0.025 per clip).
TRAINED = {**SMALL, "epochs": 16, "batch_size": 16, "lr": 2e-3}


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    folder = tmp_path_factory.mktemp("speech")
    captions = write_speech(folder, plan(words=5, voices=16, accents=4, holdout=0.25, seed=0))
    return folder, captions


@pytest.fixture(scope="module")
def few(speech):
    """40 of the pairs (30 to train on, 10 held out): enough to resume and to run the CLI."""
    folder, captions = speech
    lines = captions.read_text().splitlines()
    train = [line for line in lines if '"train"' in line][:30]
    held = [line for line in lines if '"held_out"' in line][:10]
    small = folder / "captions-40.jsonl"
    small.write_text("\n".join(train + held) + "\n")
    return folder, small


@pytest.fixture(scope="module")
def trained(speech, tmp_path_factory):
    folder, captions = speech
    out = tmp_path_factory.mktemp("models") / "spoken-clap"
    return out, train_clap(out, folder, captions, prompt=PROMPT, **TRAINED)


def test_training_beats_chance_by_a_wide_margin_on_held_out_voices(trained, speech):
    out, summary = trained
    rows = [json.loads(line) for line in speech[1].read_text().splitlines()]
    held_voices = {r["voice"].split("+")[1] for r in rows if r["split"] == "held_out"}
    assert len(held_voices) == 4 and summary["train"] == 240 and summary["held_out"] == 80
    ev = summary["evaluation"]
    assert ev["chance"] == {"zero_shot_accuracy": 0.2, "recall@10": 0.2}
    assert ev["before"]["zero_shot_accuracy"] <= 0.45  # random init: about chance
    assert ev["after"]["zero_shot_accuracy"] >= 0.8 and ev["after"]["recall@10"] >= 0.8
    assert summary["loss_per_epoch"][-1] < summary["loss_per_epoch"][0]
    assert json.loads((out / "embkit-train.json").read_text())["evaluation"] == ev
    assert sorted(p.name for p in out.iterdir()) == ["audio_tower.safetensors", "embkit-clap.json",
                                                     "embkit-train.json", "text_projection.safetensors"]
    assert not (out.parent / ".spoken-clap.partial").exists()  # checkpoints gone once complete


def test_the_model_loads_as_two_towers_and_every_clip_embeds(trained, speech):
    from safetensors.numpy import load_file

    from embkit.encoders.audio_decode import clip_at

    out, summary = trained
    folder, captions = speech
    text, audio = embkit.load_encoder("spoken-clap"), embkit.load_encoder("spoken-clap#audio")
    assert (text.modality, audio.modality) == ("text", "audio") and text.dim == audio.dim == 64
    assert text.paired == "spoken-clap#audio" and audio.paired == "spoken-clap" and audio.sample_rate == 16000
    rows = [json.loads(line) for line in captions.read_text().splitlines()]
    vectors = audio.encode([folder / r["audio"] for r in rows], batch_size=50)
    assert vectors.shape == (320, 64) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    samples = [clip_at(folder / r["audio"], 16000) for r in rows[:5]]
    np.testing.assert_allclose(audio.encode(samples), vectors[:5], atol=1e-5)  # samples at 16 kHz = the files
    # the after scores again, from the loaded towers: zero-shot on the held-out voices
    held = [r for r in rows if r["split"] == "held_out"]
    labels = sorted({r["label"] for r in rows})
    prompts = text.encode([PROMPT.format(label) for label in labels])
    predicted = np.argmax(audio.encode([folder / r["audio"] for r in held]) @ prompts.T, axis=1)
    accuracy = np.mean([labels[p] == r["label"] for p, r in zip(predicted, held)])
    assert round(float(accuracy), 4) == summary["evaluation"]["after"]["zero_shot_accuracy"]
    base = embkit.load_encoder("minilm").encode(["someone saying seven"])
    weights = load_file(str(out / "text_projection.safetensors"))
    expected = base @ weights["weight"].T + weights["bias"]
    np.testing.assert_allclose(text.encode(["someone saying seven"]), expected / np.linalg.norm(expected), atol=1e-5)


def test_models_lists_both_towers(trained):
    from typer.testing import CliRunner

    from embkit.cli import app

    listed = json.loads(CliRunner().invoke(app, ["models", "--json"]).stdout)["models"]
    rows = {r["name"]: r for r in listed}
    assert rows["spoken-clap"]["modality"] == "text" and rows["spoken-clap"]["paired"] == "spoken-clap#audio"
    assert rows["spoken-clap#audio"]["modality"] == "audio" and rows["spoken-clap#audio"]["paired"] == "spoken-clap"


def _killed_at_step(n: int):
    """A progress callback that kills the run at its n-th optimizer step (the few pairs'
    30 training pairs make one step an epoch: step 3 is the third epoch's)."""
    steps = []

    def progress(count):
        steps.append(count)
        if len(steps) == n:
            raise KeyboardInterrupt("killed")

    return progress


def test_an_interrupted_run_resumes_to_the_uninterrupted_model(few, tmp_path):
    """Killed in its third epoch, the same command resumes after the second and ends with
    the uninterrupted run's weights and per-epoch losses."""
    from safetensors.numpy import load_file

    folder, captions = few
    options = {**SMALL, "epochs": 3}
    whole = train_clap(tmp_path / "whole", folder, captions, name="whole-clap", **options)
    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        train_clap(out, folder, captions, name="resumed-clap", progress=_killed_at_step(3), **options)
    assert not out.exists() and (tmp_path / ".resumed.partial" / "checkpoints" / "last.pt").is_file()
    summary = train_clap(out, folder, captions, name="resumed-clap", **options)
    assert summary["resumed_at_epoch"] == 2 and out.is_dir() and not (tmp_path / ".resumed.partial").exists()
    assert len(whole["loss_per_epoch"]) == 3 and summary["loss_per_epoch"] == whole["loss_per_epoch"]
    ours = load_file(str(out / "audio_tower.safetensors"))
    theirs = load_file(str(tmp_path / "whole" / "audio_tower.safetensors"))
    assert ours.keys() == theirs.keys() and all(np.array_equal(ours[k], theirs[k]) for k in ours)
    assert embkit.load_encoder("resumed-clap#audio").dim == 64


def test_a_checkpoint_cut_short_or_of_other_captions_starts_over(few, tmp_path):
    folder, captions = few
    options = {**SMALL, "epochs": 2}
    checkpoint = tmp_path / ".cut.partial" / "checkpoints" / "last.pt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"PK\x03\x04 cut short")  # what a crash in the middle of a plain save leaves
    summary = train_clap(tmp_path / "cut", folder, captions, name="cut-clap", **options)
    assert summary["resumed_at_epoch"] is None and len(summary["loss_per_epoch"]) == 2
    edited = tmp_path / "edited.jsonl"  # same file, same number of lines, other captions
    edited.write_text(captions.read_text())
    with pytest.raises(KeyboardInterrupt):
        train_clap(tmp_path / "edited", folder, edited, name="edited-clap", progress=_killed_at_step(2), **options)
    edited.write_text(captions.read_text().replace('"caption": "', '"caption": "heard: '))
    summary = train_clap(tmp_path / "edited", folder, edited, name="edited-clap", **options)
    assert summary["resumed_at_epoch"] is None and len(summary["loss_per_epoch"]) == 2


def test_a_listed_file_that_is_not_audio_names_its_captions_line(few, tmp_path):
    folder, captions = few
    (tmp_path / "clips").symlink_to(folder / "clips")
    (tmp_path / "notes.txt").write_text("not a sound")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(captions.read_text() + '{"audio": "notes.txt", "caption": "someone saying one", "split": "train"}\n')
    with pytest.raises(EmbkitError) as refused:
        train_clap(tmp_path / "never", tmp_path, bad, **SMALL)
    assert str(refused.value).startswith(f"captions: {bad}:41: audio: {tmp_path / 'notes.txt'} is not a readable audio")
    assert not (tmp_path / "never").exists() and not (tmp_path / ".never.partial").exists()


def test_bad_input_names_the_field_and_writes_nothing(speech, tmp_path):
    folder, captions = speech
    out = tmp_path / "never"
    cases = [({"epochs": 0}, "epochs: must be between 1 and 1000"),
             ({"n_mels": 4}, "n_mels: must be between 8 and 256"),
             ({"clip_seconds": 60}, "clip_seconds: must be between 0.25 and 30"),
             ({"sample_rate": 12345}, "sample_rate: must be one of 8000"),
             ({"threads": 0}, "threads: must be between 1 and 256"),
             ({"prompt": "a word"}, "prompt: must be a text with one {} for the label"),
             ({"text_model": "no-such-model"}, "model: unknown model 'no-such-model'"),
             ({"name": "bad name!"}, "name: 'bad name!' must be 1-64 letters")]
    for options, message in cases:
        with pytest.raises(EmbkitError, match=message.replace("{", "\\{").replace("}", "\\}")):
            train_clap(out, folder, captions, **options)
    first = captions.read_text().splitlines()[0]
    bad = tmp_path / "bad.jsonl"
    for lines, message in [([first, '{"audio": "missing.wav", "caption": "x"}'], r"bad.jsonl:2: audio .*missing.wav"),
                           ([first.replace('"audio"', '"image"')], r"bad.jsonl:1: expected \{\"audio\": path"),
                           ([first.replace('"train"', '"test"')], "bad.jsonl:1: split must be one of train, held_out"),
                           ([first] * 25, "captions: the split field holds out 0 of 25 pairs")]:
        bad.write_text("\n".join(lines) + "\n")
        with pytest.raises(EmbkitError, match=message):
            train_clap(out, folder, bad)
    assert not out.exists() and not (tmp_path / ".never.partial").exists()


def test_cli_trains_and_refuses_in_one_line(few, tmp_path):
    from typer.testing import CliRunner

    from embkit.cli import app

    folder, captions = few
    done = CliRunner().invoke(app, ["train", "clap", "--audio", str(folder), "--captions", str(captions), "-o",
                                    str(tmp_path / "cli-clap"), "--epochs", "1", "--widths", "8,16,32,64",
                                    "--threads", "1"])
    assert done.exit_code == 0, done.output
    assert "text→audio recall@10" in done.stdout and "before (random init)" in done.stdout
    assert "registered as 'cli-clap' (audio: cli-clap#audio)" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "embkit.cli", "train", "clap", "--audio", str(folder), "--captions",
                          str(captions), "-o", str(tmp_path / "x"), "--widths", "8,x"], capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr == "error: widths: expected comma-separated integers, got '8,x'\n"
    assert not (tmp_path / "x").exists()
