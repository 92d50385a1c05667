"""The CLAP loading path on a tiny random ClapModel saved by the test: the text tower
(`FOLDER`) and the audio tower (`FOLDER#audio`) embed into one normalized space, their
vectors equal transformers' get_text_features / get_audio_features on the model's own
feature extractor, survive a save/reload, and do not depend on the batch a clip is in;
every clip (tones, chirps, noise, stereo, other rates, espeak-ng speech) finds itself
first; bad files and folders get a clear error; `embkit models` lists both towers."""

import json
import shutil
import subprocess

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("torch")
sf = pytest.importorskip("soundfile")

import embkit  # noqa: E402
from embkit.encoders import clap as clap_module  # noqa: E402
from embkit.errors import EmbkitError  # noqa: E402
from embkit.search.exact import top_k  # noqa: E402

from clap_maker import SAMPLE_RATE, make_tiny_clap  # noqa: E402

TEXTS = ["a dog barking", "someone saying seven", "a rising whistle"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_tiny_clap(tmp_path_factory.mktemp("clap") / "tiny-clap")


def _sine(rate, seconds, hz):
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list:
    """Short clips as files of every kind: tones, a chirp, noise, stereo, 8 and 44.1 kHz,
    and words spoken by espeak-ng when it is installed."""
    out, rng = tmp_path_factory.mktemp("clips"), np.random.default_rng(0)
    t = np.arange(12000) / SAMPLE_RATE
    made = {"tone.wav": (_sine(SAMPLE_RATE, 0.75, 440), SAMPLE_RATE),
            "chirp.flac": (0.5 * np.sin(2 * np.pi * (200 + 2000 * t) * t), SAMPLE_RATE),
            "noise.ogg": (0.3 * rng.standard_normal(12000), SAMPLE_RATE),
            "stereo.wav": (np.stack([_sine(SAMPLE_RATE, 0.5, 300), _sine(SAMPLE_RATE, 0.5, 1200)], axis=1),
                           SAMPLE_RATE),
            "low.wav": (_sine(8000, 0.6, 700), 8000),
            "cd.mp3": (_sine(44100, 0.8, 2000) * np.linspace(0, 1, 35280), 44100)}
    paths = []
    for name, (samples, rate) in made.items():
        sf.write(out / name, np.asarray(samples, dtype=np.float32), rate)
        paths.append(out / name)
    if shutil.which("espeak-ng"):
        for word, voice in (("seven", "en"), ("banana", "en+f3")):
            path = out / f"{word}.wav"
            subprocess.run(["espeak-ng", "-w", str(path), "-v", voice, word], check=True, capture_output=True)
            paths.append(path)
    return paths


def _reference(folder, texts, clips, longer):
    """transformers' own vectors: the tokenizer and extractor from the folder, the
    model's get_*_features; `longer` is each clip's is_longer (the extractor's crops
    drawn from seed 0, as embkit does)."""
    import torch
    from transformers import AutoTokenizer, ClapFeatureExtractor, ClapModel

    model = ClapModel.from_pretrained(str(folder)).eval()
    tokens = AutoTokenizer.from_pretrained(str(folder))(texts, padding=True, return_tensors="pt")
    extractor = ClapFeatureExtractor.from_pretrained(str(folder))
    mels = []
    for clip in clips:
        np.random.seed(clap_module.CROP_SEED)
        mels.append(extractor([clip], sampling_rate=SAMPLE_RATE, return_tensors="pt")["input_features"])
    with torch.inference_mode():
        text = model.get_text_features(**tokens).pooler_output
        audio = model.get_audio_features(input_features=torch.cat(mels).float(),
                                         is_longer=torch.tensor([[x] for x in longer])).pooler_output
    return text.numpy(), audio.numpy()


def test_both_towers_embed_into_one_normalized_space(folder, clips):
    text = embkit.load_encoder(str(folder))
    audio = embkit.load_encoder(str(folder) + "#audio")
    assert (text.modality, audio.modality) == ("text", "audio")
    assert text.paired == audio.name == str(folder.resolve()) + "#audio" and audio.paired == text.name
    assert (audio.sample_rate, audio.window_seconds, text.max_tokens) == (SAMPLE_RATE, 1.0, 64)
    assert embkit.load_encoder(str(folder) + "#audio") is audio  # kept per name
    t, v = text.encode(TEXTS), audio.encode(clips, batch_size=3)
    assert t.shape == (3, 16) and v.shape == (len(clips), 16) and t.dtype == v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    ids, _ = top_k(v, v, 1, "cosine")  # every clip finds itself first
    assert np.asarray(ids)[:, 0].tolist() == list(range(len(clips)))
    ranked, _ = top_k(t[:1], v, len(clips), "cosine")  # a text ranks every clip
    assert sorted(np.asarray(ranked)[0].tolist()) == list(range(len(clips)))


def test_vectors_equal_transformers_and_survive_save_and_reload(folder, clips, tmp_path):
    short = [_sine(SAMPLE_RATE, 0.5, 440), np.random.default_rng(3).standard_normal(9000).astype(np.float32)]
    long = np.random.default_rng(4).standard_normal(SAMPLE_RATE * 5 // 2).astype(np.float32)  # 2.5 windows
    ref_t, ref_v = _reference(folder, TEXTS, short + [long], [False, False, True])
    text, audio = embkit.load_encoder(str(folder)), embkit.load_encoder(str(folder) + "#audio")
    np.testing.assert_allclose(text.encode(TEXTS), ref_t, atol=1e-5)
    np.testing.assert_allclose(audio.encode(short + [long]), ref_v, atol=1e-5)
    # a clip's vector does not depend on its batch (the extractor alone would mark a
    # random short clip as longer, and draw the long clip's crops from the global generator)
    np.random.seed(123)
    np.testing.assert_allclose(audio.encode([long, short[1]]), ref_v[[2, 1]], atol=1e-5)
    np.testing.assert_allclose(audio.encode(short[:1]), ref_v[:1], atol=1e-5)
    assert np.random.randint(1 << 30) == np.random.RandomState(123).randint(1 << 30)  # the caller's generator untouched

    copy = shutil.copytree(folder, tmp_path / "copied-clap")  # a saved model, loaded afresh elsewhere
    np.testing.assert_array_equal(embkit.load_encoder(str(copy) + "#audio").encode(clips),
                                  audio.encode(clips))
    np.testing.assert_array_equal(embkit.load_encoder(str(copy)).encode(TEXTS), text.encode(TEXTS))


def test_files_read_as_the_same_samples_given_as_arrays(folder, clips):
    audio = embkit.load_encoder(str(folder) + "#audio")
    stereo = sf.read(clips[3], dtype="float32")[0]  # (frames, 2) at the model's rate: channels averaged
    np.testing.assert_allclose(audio.encode([stereo, clips[0].read_bytes()]), audio.encode(clips[3:4] + clips[:1]),
                               atol=1e-6)


def test_bad_audio_and_folders_get_clear_errors(folder, tmp_path):
    audio = embkit.load_encoder(str(folder) + "#audio")
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF but nothing else of a wave file")
    with pytest.raises(EmbkitError, match="broken.wav is not a readable audio file"):
        audio.encode([broken])
    with pytest.raises(EmbkitError, match="missing.flac not found"):
        audio.encode([tmp_path / "missing.flac"])
    half = tmp_path / "half-clap"
    half.mkdir()
    shutil.copy(folder / "config.json", half / "config.json")  # says CLAP, holds no weights
    with pytest.raises(EmbkitError, match="not a complete CLAP folder"):
        embkit.load_encoder(str(half))
    assert clap_module.is_clap_folder(folder) and not clap_module.is_clap_folder(tmp_path)


def test_a_registered_clap_is_listed_with_both_towers(folder):
    from typer.testing import CliRunner

    from embkit.cli import app
    from embkit.encoders.registry import register

    register("tiny-clap", folder, [], dim=16, paired="tiny-clap#audio")
    assert embkit.load_encoder("tiny-clap#audio").name == "tiny-clap#audio"
    rows = {r["name"]: r for r in json.loads(CliRunner().invoke(app, ["models", "--json"]).stdout)["models"]}
    assert (rows["tiny-clap"]["modality"], rows["tiny-clap"]["paired"]) == ("text", "tiny-clap#audio")
    assert (rows["tiny-clap#audio"]["modality"], rows["tiny-clap#audio"]["paired"]) == ("audio", "tiny-clap")
    assert rows["tiny-clap#audio"]["backend"] == "clap"
