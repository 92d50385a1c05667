"""`embkit train clap`: a small audio–text dual encoder on CPU, the audio twin of
`embkit train clip` (train/two_tower.py runs both). The audio tower is a small CNN over
log-mel spectrograms (encoders/small_clap.py); the text tower is a frozen catalog model
(minilm) plus a learned projection; symmetric InfoNCE with a learned temperature.

Captions are JSON lines `{"audio": "clip.wav", "caption": ..., "label"?: ..., "split"?:
"train" | "held_out"}` (train/speech.py writes them, holding out whole voices). The
result is registered by name: `NAME` is the text tower and `NAME#audio` the audio tower."""

from pathlib import Path

from ..errors import EmbkitError
from .two_tower import Modality, check_run, train_two_tower

MAX_SHIFT = 0.1  # training clips are shifted in time by up to this share of the window


def train_clap(out: str | Path, audio: str | Path, captions: str | Path, *, text_model: str = "minilm",
               dim: int = 64, sample_rate: int = 16000, clip_seconds: float = 1.5, n_mels: int = 40,
               widths: tuple[int, ...] = (16, 32, 64, 128), epochs: int = 10, batch_size: int = 64, lr: float = 3e-3,
               holdout: float = 0.2, prompt: str = "the spoken word {}", seed: int = 0, name: str | None = None,
               overwrite: bool = False, progress=None, steps_known=None, threads: int | None = None) -> dict:
    """Train, save to `out`, register, and evaluate before/after on the held-out pairs
    (the captions' `split` when given, else a seeded `holdout` share). `steps_known(total)`
    hears the number of optimizer steps before training starts; `threads` caps torch's."""
    check_run(dim, widths, epochs, batch_size, lr, holdout, prompt)
    _check_audio(sample_rate, clip_seconds, n_mels, widths, threads)
    config = {"format": "embkit-clap", "version": 1, "text_model": text_model, "dim": dim, "widths": list(widths),
              "sample_rate": sample_rate, "clip_seconds": clip_seconds, "n_fft": 512 * sample_rate // 16000,
              "hop_length": 256 * sample_rate // 16000, "n_mels": n_mels, "f_min": 20.0}
    return train_two_tower(out, audio, captions, audio_modality(), config, text_model=text_model, epochs=epochs,
                           batch_size=batch_size, lr=lr, holdout=holdout, prompt=prompt, seed=seed, name=name,
                           overwrite=overwrite, progress=progress, steps_known=steps_known, threads=threads,
                           facts={"dim": dim, "sample_rate": sample_rate, "clip_seconds": clip_seconds,
                                  "n_mels": n_mels, "widths": list(widths)})


def audio_modality() -> Modality:
    """Audio: log-mel spectrograms through the small CNN of encoders/small_clap.py."""
    from ..encoders.small_clap import AUDIO_SUFFIX, AUDIO_WEIGHTS, CONFIG, TEXT_WEIGHTS, audio_tower, features

    return Modality("clap", "audio", "clips", AUDIO_SUFFIX, audio_tower, features,
                    (CONFIG, AUDIO_WEIGHTS, TEXT_WEIGHTS), augment=shift_in_time)


def shift_in_time(batch, generator):
    """Each spectrogram rolled along time by a random number of frames (up to
    MAX_SHIFT of the window): a word said a little earlier or later is the same word."""
    import torch

    frames = batch.shape[-1]
    most = max(1, int(frames * MAX_SHIFT))
    shifts = torch.randint(-most, most + 1, (batch.shape[0],), generator=generator)
    return torch.stack([torch.roll(x, int(s), dims=-1) for x, s in zip(batch, shifts)])


def _check_audio(sample_rate: int, clip_seconds: float, n_mels: int, widths: tuple[int, ...],
                 threads: int | None) -> None:
    checks = [("sample_rate", sample_rate in (8000, 16000, 22050, 24000, 32000, 44100, 48000),
               "one of 8000, 16000, 22050, 24000, 32000, 44100, 48000"),
              ("clip_seconds", 0.25 <= clip_seconds <= 30, "between 0.25 and 30"),
              ("n_mels", 8 <= n_mels <= 256, "between 8 and 256"),
              ("threads", threads is None or 1 <= threads <= 256, "between 1 and 256")]
    for field, ok, limit in checks:
        if not ok:
            raise EmbkitError(f"{field}: must be {limit}")
    if n_mels // 2 ** (len(widths) - 1) < 1:
        raise EmbkitError(f"n_mels: {n_mels} is too small for {len(widths)} pooling steps")
