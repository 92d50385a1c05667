"""Audio files as documents: which files are sounds, their metadata (path, bytes,
duration, native rate and channels, format), their samples as mono float32 at a model's
rate, and the overlapping windows a clip longer than the model's window is split into
(each window a chunk of the file's document, with start and end in seconds). A file
that does not decode whole raises EmbkitError naming it; the caller skips it with a
warning so the others still land."""

from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..encoders.audio_decode import decode, resample
from ..errors import EmbkitError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
OVERLAP = 0.25  # of a window: a sound shorter than a quarter window lies whole inside some window


class AudioFile(NamedTuple):
    """A readable sound: its metadata and its mono samples at `rate`."""

    metadata: dict
    samples: np.ndarray  # float32, mono
    rate: int


class Window(NamedTuple):
    """A stretch of a clip: its bounds in seconds and its samples."""

    start: float
    end: float
    samples: np.ndarray


def is_audio_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in AUDIO_SUFFIXES


def read_audio(path: str | Path, rate: int) -> AudioFile:
    """The file decoded, downmixed to mono and resampled to `rate`, with metadata:
    `path`, `bytes`, `duration_s`, `sample_rate` and `channels` (the file's own) and
    `format`. Raises EmbkitError naming the file if it is missing, empty, truncated,
    corrupt or not audio."""
    if isinstance(rate, bool) or not isinstance(rate, int) or rate < 1:
        raise EmbkitError(f"rate: must be a whole number of samples per second of at least 1, got {rate!r}")
    path = Path(path)
    decoded = decode(path)
    metadata = {"path": str(path), "bytes": path.stat().st_size,
                "duration_s": round(len(decoded.samples) / decoded.sample_rate, 6),
                "sample_rate": decoded.sample_rate, "channels": decoded.channels, "format": decoded.format}
    return AudioFile(metadata, resample(decoded.samples, decoded.sample_rate, rate), rate)


def windows(samples: np.ndarray, rate: int, window_s: float, overlap: float = OVERLAP) -> list[Window]:
    """The clip as windows of `window_s` seconds, each overlapping the next by at least
    `overlap` of a window: the fewest windows that do, spread evenly from the clip's start
    to its end (so every window is full length and no last one is a sliver). A clip no
    longer than one window is one window."""
    if not window_s > 0 or not 0 <= overlap < 1:
        raise EmbkitError(f"window: needs window_s > 0 and 0 <= overlap < 1, got {window_s!r} and {overlap!r}")
    size = max(1, round(window_s * rate))
    if len(samples) <= size:
        return [Window(0.0, len(samples) / rate, samples)]
    step = max(1, int(size * (1 - overlap)))
    count = -(-(len(samples) - size) // step) + 1  # ceil: the last start is len - size
    starts = np.linspace(0, len(samples) - size, count).round().astype(int).tolist()
    return [Window(s / rate, (s + size) / rate, samples[s:s + size]) for s in starts]
