"""Reading audio files for ingest: wav, flac, ogg and mp3 decoded by libsndfile into mono
float32 at a model's rate (checked against the exact signal: resampling from 8 and
44.1 kHz, stereo downmix, anti-aliasing), metadata, the windows of a long clip and their
offsets, speech synthesized by espeak-ng, and every kind of bad file refused in one line
naming it."""

import shutil
import subprocess

import numpy as np
import pytest

sf = pytest.importorskip("soundfile")

from embkit.encoders.audio_decode import STREAMED_SIZE, clip_at  # noqa: E402
from embkit.errors import EmbkitError  # noqa: E402
from embkit.ingest.audio_files import AUDIO_SUFFIXES, is_audio_path, read_audio, windows  # noqa: E402

RATE = 16000  # the model's rate in these tests


def tones(rate: int, seconds: float, parts=((1000, 0.5, 0.0), (2500, 0.3, 1.0))) -> np.ndarray:
    """A sum of sines (Hz, amplitude, phase), exactly, at any rate."""
    t = np.arange(int(round(rate * seconds))) / rate
    return sum(a * np.sin(2 * np.pi * f * t + p) for f, a, p in parts)


def interior(x: np.ndarray, rate: int, margin_s: float = 0.05) -> np.ndarray:
    """The clip without its first and last `margin_s` (a filter's edges)."""
    cut = int(rate * margin_s)
    return x[cut:len(x) - cut]


@pytest.mark.parametrize("rate", [8000, 44100, RATE])
def test_a_tone_at_any_rate_reads_as_the_exact_tone_at_the_models_rate(tmp_path, rate):
    path = tmp_path / f"tone-{rate}.wav"
    sf.write(path, tones(rate, 0.5).astype(np.float32), rate, subtype="FLOAT")
    clip = read_audio(path, RATE)
    assert clip.samples.dtype == np.float32 and clip.rate == RATE and len(clip.samples) == RATE // 2
    error = np.abs(interior(clip.samples, RATE) - interior(tones(RATE, 0.5), RATE)).max()
    assert error < 2e-3  # linear interpolation from 8 kHz is off by 0.16 here
    assert clip.metadata == {"path": str(path), "bytes": path.stat().st_size, "duration_s": 0.5,
                             "sample_rate": rate, "channels": 1, "format": "wav"}


def test_a_tone_above_the_new_nyquist_is_filtered_out_not_folded_down(tmp_path):
    path = tmp_path / "high.wav"
    sf.write(path, tones(44100, 0.5, ((12000, 0.5, 0.0),)).astype(np.float32), 44100, subtype="FLOAT")
    # 12 kHz would alias to 4 kHz at 16 kHz; the resampler's low-pass removes it instead
    assert np.sqrt(np.mean(interior(read_audio(path, RATE).samples, RATE) ** 2)) < 0.01


def test_stereo_is_the_mean_of_its_channels(tmp_path):
    left, right = tones(RATE, 0.25, ((440, 0.4, 0.0),)), tones(RATE, 0.25, ((880, 0.4, 0.5),))
    path = tmp_path / "stereo.flac"
    sf.write(path, np.stack([left, right], axis=1), RATE)  # 16-bit FLAC: exact to 1/32768
    clip = read_audio(path, RATE)
    assert (clip.metadata["channels"], clip.metadata["format"], clip.samples.ndim) == (2, "flac", 1)
    np.testing.assert_allclose(clip.samples, (left + right) / 2, atol=1 / 32768)
    np.testing.assert_array_equal(clip_at(path, RATE), clip.samples)  # the encoder's path reads the same


@pytest.mark.parametrize("suffix", AUDIO_SUFFIXES)
def test_every_format_decodes_with_its_metadata(tmp_path, suffix):
    rng = np.random.default_rng(1)
    chirp_and_noise = np.concatenate([np.sin(2 * np.pi * np.cumsum(np.linspace(200, 3000, 22050)) / 22050),
                                      0.1 * rng.standard_normal(11025)]) * 0.5
    path = tmp_path / f"clip{suffix}"
    sf.write(path, chirp_and_noise.astype(np.float32), 22050)
    clip = read_audio(path, RATE)
    assert is_audio_path(path) and is_audio_path(str(path).upper())
    assert clip.metadata["format"] == suffix[1:] and clip.metadata["sample_rate"] == 22050
    assert clip.metadata["bytes"] == path.stat().st_size and clip.metadata["channels"] == 1
    assert abs(clip.metadata["duration_s"] - 1.5) < 0.06  # lossy codecs pad by a frame at most
    assert abs(len(clip.samples) - 1.5 * RATE) < 0.06 * RATE


def test_a_long_clip_is_split_into_overlapping_windows_with_their_offsets():
    samples = np.arange(56000, dtype=np.float32)  # 3.5 s at 16 kHz; 1 s windows
    found = windows(samples, RATE, 1.0)
    # the fewest windows overlapping by at least a quarter, spread evenly from start to end
    assert [(w.start, w.end) for w in found] == [(0.0, 1.0), (0.625, 1.625), (1.25, 2.25), (1.875, 2.875),
                                                (2.5, 3.5)]
    for w in found:
        np.testing.assert_array_equal(w.samples, samples[int(w.start * RATE):int(w.end * RATE)])
    assert [(w.start, w.end) for w in windows(samples, RATE, 1.0, overlap=0.5)][:3] == [
        (0.0, 1.0), (0.5, 1.5), (1.0, 2.0)]
    short = windows(samples[:8000], RATE, 1.0)
    assert [(w.start, w.end, len(w.samples)) for w in short] == [(0.0, 0.5, 8000)]
    with pytest.raises(EmbkitError, match="overlap < 1"):
        windows(samples, RATE, 1.0, overlap=1.0)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (make test-system)")
def test_speech_from_espeak_ng_reads_as_a_word_at_the_models_rate(tmp_path):
    path = tmp_path / "seven.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "-v", "en", "seven"], check=True, capture_output=True)
    clip = read_audio(path, RATE)
    assert (clip.metadata["sample_rate"], clip.metadata["channels"]) == (22050, 1)
    assert 0.3 < clip.metadata["duration_s"] < 2 and abs(len(clip.samples) - clip.metadata["duration_s"] * RATE) < 1
    assert np.abs(clip.samples).max() > 0.05  # a voice, not silence
    piped = tmp_path / "piped.wav"  # written to a pipe: the header's sizes are placeholders, not a truncation
    piped.write_bytes(subprocess.run(["espeak-ng", "--stdout", "-v", "en", "seven"], check=True,
                                     capture_output=True).stdout)
    assert int.from_bytes(piped.read_bytes()[40:44], "little") >= STREAMED_SIZE
    np.testing.assert_array_equal(read_audio(piped, RATE).samples, clip.samples)


def _bad_files(tmp_path) -> dict:
    """name → (bytes, what the error says)."""
    good = {}
    for suffix in AUDIO_SUFFIXES:
        path = tmp_path / f"good{suffix}"
        sf.write(path, tones(RATE, 2.0).astype(np.float32) * 0.5, RATE)
        good[suffix] = path.read_bytes()
    no_frames = tmp_path / "no-frames.wav"  # a well-formed WAV of zero frames
    sf.write(no_frames, np.zeros(0, dtype=np.float32), RATE)
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.array([0.1, np.nan, 0.2], dtype=np.float32), RATE, subtype="FLOAT")
    return {
        "empty.wav": (b"", "is empty"),
        "noise.wav": (np.random.default_rng(0).bytes(3000), "not a readable audio file"),
        "notes.mp3": (b"just some text, not audio\n" * 40, "not a readable audio file"),
        "picture.ogg": (b"\x89PNG\r\n\x1a\n" + bytes(200), "not a readable audio file"),
        "cut.wav": (good[".wav"][: len(good[".wav"]) // 2], "is truncated"),
        "cut.flac": (good[".flac"][: len(good[".flac"]) // 2], "not a readable audio file"),
        "cut.ogg": (good[".ogg"][: len(good[".ogg"]) // 2], "not a readable audio file"),
        "tail.ogg": (good[".ogg"][: int(len(good[".ogg"]) * 0.95)], "holds no samples"),
        "cut.mp3": (good[".mp3"][: len(good[".mp3"]) // 2], "is truncated"),
        "header.wav": (good[".wav"][:44], "is truncated (its header promises 64000 bytes of samples, the file "
                                          "holds 0)"),
        "no-frames.wav": (no_frames.read_bytes(), "holds no samples"),
        "nan.wav": (nan.read_bytes(), "not finite"),
    }


def test_every_bad_file_is_refused_in_one_line_naming_it(tmp_path):
    for name, (data, says) in _bad_files(tmp_path).items():
        path = tmp_path / "bad" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        with pytest.raises(EmbkitError) as caught:
            read_audio(path, RATE)
        message = str(caught.value)
        assert message.startswith(f"audio: {path} ") and says in message and "\n" not in message, (name, message)
    with pytest.raises(EmbkitError, match="missing.wav not found"):
        read_audio(tmp_path / "missing.wav", RATE)
    with pytest.raises(EmbkitError, match="rate: must be a whole number"):
        read_audio(tmp_path / "bad" / "nan.wav", 0)
    with pytest.raises(EmbkitError, match=r"got shape \(0,\)"):
        clip_at(np.zeros(0, dtype=np.float32), RATE)


def test_a_file_longer_than_the_limit_is_refused_before_it_is_decoded(tmp_path, monkeypatch):
    from embkit.encoders import audio_decode

    path = tmp_path / "long.flac"
    sf.write(path, tones(RATE, 3.0) * 0.5, RATE)
    monkeypatch.setattr(audio_decode, "MAX_SECONDS", 2)  # the limit is an hour; a 3 s file shows it
    with pytest.raises(EmbkitError, match=f"audio: {path} lasts 3 s, more than the limit of 2 s"):
        read_audio(path, RATE)
    monkeypatch.setattr(audio_decode, "BLOCK_FRAMES", 1000)  # decoded in blocks: the same samples
    monkeypatch.setattr(audio_decode, "MAX_SECONDS", 3600)
    np.testing.assert_array_equal(read_audio(path, RATE).samples, sf.read(path, dtype="float32")[0])
