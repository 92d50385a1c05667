"""The audio–text model `embkit train clap` makes, the audio twin of small_clip.py: a
small CNN over log-mel spectrograms and a frozen text encoder (a catalog model such as
minilm) with a learned linear projection, both into one normalized space. A folder holds
`embkit-clap.json`, `audio_tower.safetensors` and `text_projection.safetensors`. The
text tower needs no torch; the audio tower runs the CNN on torch. Audio is mono float32
at the config's `sample_rate`; a clip is cut or zero-padded to `clip_seconds`."""

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import EmbkitError
from .audio_decode import clip_at
from .base import Progress, l2_normalize
from .small_clip import TEXT_WEIGHTS, SmallClipTextEncoder, image_tower, load_tower

CONFIG = "embkit-clap.json"
AUDIO_WEIGHTS = "audio_tower.safetensors"
AUDIO_SUFFIX = "#audio"
__all__ = ["CONFIG", "AUDIO_WEIGHTS", "AUDIO_SUFFIX", "TEXT_WEIGHTS", "audio_tower", "features", "log_mel"]


def is_small_clap_folder(path: Path) -> bool:
    return (path / CONFIG).is_file()


def read_config(folder: Path) -> dict:
    try:
        config = json.loads((folder / CONFIG).read_text())
        if config.get("format") != "embkit-clap":
            raise ValueError("not an embkit-clap config")
        return config
    except (OSError, ValueError) as e:
        raise EmbkitError(f"model: {folder / CONFIG} is not a readable embkit-clap config ({e})") from None


def audio_tower(config: dict):
    """small_clip's CNN over one channel: the (n_mels, frames) spectrogram as an image."""
    return image_tower(config, channels=1)


def mel_filters(config: dict) -> np.ndarray:
    """(n_mels, n_fft//2 + 1) triangular filters, evenly spaced on the HTK mel scale."""
    rate, n_fft, n_mels = config["sample_rate"], config["n_fft"], config["n_mels"]
    mel = np.linspace(_to_mel(config.get("f_min", 20.0)), _to_mel(rate / 2), n_mels + 2)
    edges = 700.0 * (10 ** (mel / 2595.0) - 1)
    bins = np.linspace(0, rate / 2, n_fft // 2 + 1)
    rising = (bins[None, :] - edges[:-2, None]) / (edges[1:-1, None] - edges[:-2, None])
    falling = (edges[2:, None] - bins[None, :]) / (edges[2:, None] - edges[1:-1, None])
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


def _to_mel(hz: float) -> float:
    return 2595.0 * np.log10(1 + hz / 700.0)


def log_mel(samples: np.ndarray, config: dict, filters: np.ndarray | None = None) -> np.ndarray:
    """(n_mels, frames) float32: the clip cut or zero-padded to `clip_seconds`, a Hann
    STFT's power through the mel filters, log-compressed and standardized per clip (so a
    voice's loudness does not matter)."""
    n_fft, hop = config["n_fft"], config["hop_length"]
    length = int(round(config["clip_seconds"] * config["sample_rate"]))
    clip = np.zeros(length + n_fft, dtype=np.float32)  # n_fft//2 of padding each side, as a centred STFT
    kept = np.asarray(samples, dtype=np.float32)[:length]
    clip[n_fft // 2:n_fft // 2 + len(kept)] = kept
    frames = 1 + length // hop
    index = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    power = np.abs(np.fft.rfft(clip[index] * np.hanning(n_fft).astype(np.float32), axis=1)) ** 2
    spectrum = np.log(power @ (mel_filters(config) if filters is None else filters).T + 1e-6).T
    return ((spectrum - spectrum.mean()) / max(float(spectrum.std()), 1e-6)).astype(np.float32)


def features(items: Sequence, config: dict) -> np.ndarray:
    """(n, 1, n_mels, frames) float32: the audio tower's input batch from paths, bytes or
    arrays at the config's rate (decoded and resampled as audio collections are)."""
    filters = mel_filters(config)
    return np.stack([log_mel(clip_at(item, config["sample_rate"]), config, filters)[None] for item in items])


class SmallClapTextEncoder(SmallClipTextEncoder):
    """Texts → the frozen text model → projection → unit vectors in the shared space."""

    other_suffix = AUDIO_SUFFIX

    @staticmethod
    def read_config(folder: Path) -> dict:
        return read_config(folder)


class SmallClapAudioEncoder:
    """Audio (paths, file bytes, or arrays at `sample_rate`) → the CNN → unit vectors."""

    modality = "audio"
    normalized = True
    max_tokens = 0

    def __init__(self, folder: Path, name: str | None = None, threads: int | None = None):
        self._torch, self.config, self._tower, self.threads = load_tower(
            folder, "audio", read_config, audio_tower, AUDIO_WEIGHTS, threads)
        self.sample_rate, self.window_seconds = int(self.config["sample_rate"]), float(self.config["clip_seconds"])
        self.paired = name or str(folder.resolve())
        self.name, self.dim = self.paired + AUDIO_SUFFIX, int(self.config["dim"])

    def encode(self, clips: Sequence, batch_size: int = 64, progress: Progress | None = None) -> np.ndarray:
        clips = list(clips)
        out = np.empty((len(clips), self.dim), dtype=np.float32)
        for start in range(0, len(clips), batch_size):
            chunk = clips[start:start + batch_size]
            batch = self._torch.from_numpy(features(chunk, self.config))
            with self._torch.inference_mode():
                out[start:start + len(chunk)] = self._tower(batch).numpy()
            progress and progress(len(chunk))
        return l2_normalize(out)
