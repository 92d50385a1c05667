"""`python -m embkit.train.speech`: spoken words synthesized by espeak-ng, captioned
from templates, with whole voices (espeak-ng variants) held out; and the log-mel
features the audio tower reads (a tone lands in its mel band; a file gives the features
of its decoded samples)."""

import json
import subprocess
import sys

import numpy as np
import pytest

soundfile = pytest.importorskip("soundfile")

from embkit.encoders.audio_decode import clip_at  # noqa: E402
from embkit.encoders.small_clap import features, log_mel, mel_filters  # noqa: E402
from embkit.errors import EmbkitError  # noqa: E402
from embkit.train.speech import ACCENTS, PROMPT, TEMPLATES, WORDS, main, plan, variants, write_speech  # noqa: E402

CONFIG = {"sample_rate": 16000, "clip_seconds": 1.5, "n_fft": 512, "hop_length": 256, "n_mels": 40, "f_min": 20.0}


def test_the_plan_holds_out_whole_voices():
    names = variants()
    assert len(names) >= 90 and {"m1", "f3", "klatt", "whisper"} <= set(names)
    assert all(" " not in n for n in names)  # "Mr serious" cannot be named with -v: left out
    clips = plan(words=20, voices=20, accents=2, holdout=0.25, seed=3)
    assert len(clips) == 20 * 2 * 20 and len(WORDS) == 20 and WORDS[:10][7] == "seven"
    held = {c.variant for c in clips if c.split == "held_out"}
    trained = {c.variant for c in clips if c.split == "train"}
    assert len(held) == 5 and len(trained) == 15 and not held & trained
    assert {c.word for c in clips if c.split == "held_out"} == set(WORDS)
    assert all(c.accent in ACCENTS and 120 <= c.speed <= 210 and 20 <= c.pitch <= 80 for c in clips)
    assert all(any(c.caption == t.format(c.word) for t in TEMPLATES) for c in clips)
    assert {t for c in clips for t in TEMPLATES if c.caption == t.format(c.word)} == set(TEMPLATES)
    assert PROMPT.format("seven") == "the spoken word seven"
    assert plan(words=20, voices=20, accents=2, holdout=0.25, seed=3) == clips  # seeded


def test_clips_and_captions_are_written(tmp_path):
    clips = plan(words=2, voices=3, accents=1, holdout=0.34, seed=0)
    captions = write_speech(tmp_path, clips)
    rows = [json.loads(line) for line in captions.read_text().splitlines()]
    assert len(rows) == 6 and [r["audio"] for r in rows] == [c.file for c in clips]
    for row in rows:
        samples, rate = soundfile.read(tmp_path / row["audio"])
        assert rate == 22050 and 0.2 < len(samples) / rate < 2.0 and np.abs(samples).max() > 0.05
        assert row["label"] in ("zero", "one") and row["label"] in row["caption"]
        assert row["split"] in ("train", "held_out") and row["voice"].endswith("+" + row["audio"].split("/")[1])
    voices = json.loads((tmp_path / "voices.json").read_text())
    assert len(voices["variants"]["held_out"]) == 1 and len(voices["variants"]["train"]) == 2
    assert voices["clips"] == 6 and voices["words"] == ["one", "zero"]


def test_bad_arguments_give_one_line_errors(tmp_path, monkeypatch):
    for options, message in [({"words": 1}, "words: must be between 2 and 20"),
                             ({"voices": 1}, "voices: must be 0 (all) or at least 2"),
                             ({"accents": 9}, "accents: must be between 1 and 8"),
                             ({"holdout": 0.0}, "holdout: must be in (0, 0.9)")]:
        with pytest.raises(EmbkitError, match=message.replace("(", r"\(").replace(")", r"\)")):
            plan(**options)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    done = subprocess.run([sys.executable, "-m", "embkit.train.speech", str(tmp_path / "full"), "--words", "3"],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr == f"error: out: {tmp_path / 'full'} exists and is not an empty folder\n"
    monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng on it
    assert main([str(tmp_path / "new"), "--words", "2"]) == 1
    assert not (tmp_path / "new").exists()
    broken = tmp_path / "espeak-ng"  # installed, but it cannot run (its data folder gone, say)
    broken.write_text("#!/bin/sh\necho 'Error processing file: No such file or directory' >&2\nexit 1\n")
    broken.chmod(0o755)
    done = subprocess.run([sys.executable, "-m", "embkit.train.speech", str(tmp_path / "new"), "--words", "2"],
                          capture_output=True, text=True, env={"PATH": str(tmp_path)})
    assert done.returncode == 1 and not (tmp_path / "new").exists()
    assert done.stderr == "error: espeak-ng: listing its voices failed: " \
                          "Error processing file: No such file or directory\n"


def test_a_tone_lands_in_its_mel_band():
    rate = CONFIG["sample_rate"]
    t = np.arange(rate) / rate
    spectrum = log_mel(np.sin(2 * np.pi * 1000 * t).astype(np.float32), CONFIG)
    assert spectrum.shape == (40, 1 + 24000 // 256) and spectrum.dtype == np.float32
    filters = mel_filters(CONFIG)
    bins = np.linspace(0, rate / 2, 257)
    peak_band = int(np.argmax(spectrum[:, 20]))
    assert peak_band == int(np.argmax(filters[:, int(np.argmin(np.abs(bins - 1000)))]))
    assert abs(float(spectrum.mean())) < 1e-4 and abs(float(spectrum.std()) - 1) < 1e-3  # standardized per clip


def test_a_file_and_its_samples_give_the_same_features(tmp_path):
    """The tower reads a 22,050 Hz stereo file as audio collections decode it (mono, at
    the model's rate): its features equal those of the decoded samples."""
    t = np.arange(22050) / 22050
    soundfile.write(tmp_path / "tone.wav", np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 900 * t)], 1),
                    22050)
    samples = clip_at(tmp_path / "tone.wav", 16000)
    assert samples.shape == (16000,) and samples.dtype == np.float32
    np.testing.assert_array_equal(features([tmp_path / "tone.wav"], CONFIG), features([samples], CONFIG))
    assert features([samples], CONFIG).shape == (1, 1, 40, 94)
