"""Sound in, mono float32 samples at a model's rate out: files (wav, flac, ogg, mp3, any
format libsndfile reads), a file's bytes, or an array. Channels are averaged; the rate
is changed by a polyphase FIR resampler (scipy's `resample_poly`: an exact rational
ratio such as 160/147 for 44.1 → 48 kHz, a Kaiser-windowed low-pass against aliasing,
linear phase, no wrap-around at the clip's ends as an FFT resampler has). A file that
does not decode whole is refused in one line naming it."""

import io
import re
from math import gcd
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import EmbkitError

# libsndfile's log for a WAV/AIFF whose header promises more data than the file holds
_SHORT_CHUNK = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
# a size written by a pipe before the length was known: 0, or a placeholder near 2 or 4 GiB
# (espeak-ng --stdout writes 0x7ffff000, ffmpeg 0xffffffff)
STREAMED_SIZE = 0x7FFF0000


MAX_SECONDS = 3600  # a longer file is refused: decoded whole, an hour at 48 kHz is 0.7 GB of float32
BLOCK_FRAMES = 1 << 20  # read and downmixed a block at a time: the stereo whole never sits in memory


class Decoded(NamedTuple):
    """A decoded clip as mono float32 at its own rate (its channels averaged), and what it was."""

    samples: np.ndarray
    sample_rate: int
    channels: int
    format: str  # "wav", "flac", "ogg", "mp3", ... ("array" for an array given)


def decode(source, what: str | None = None) -> Decoded:
    """Every frame of a path or a file's bytes, downmixed to mono; a clear EmbkitError
    (naming `what`, or the path) when the file is missing, not audio, empty, truncated,
    corrupt or longer than MAX_SECONDS."""
    import soundfile as sf

    if isinstance(source, (bytes, bytearray)):
        what, handle = what or "the audio given", io.BytesIO(source)
    else:
        path = Path(source)
        what, handle = what or str(path), str(path)
        if not path.is_file():
            raise EmbkitError(f"audio: {what} not found")
        if path.stat().st_size == 0:
            raise EmbkitError(f"audio: {what} is empty (0 bytes)")
    try:
        with sf.SoundFile(handle) as f:
            declared, rate, channels, kind, log = f.frames, f.samplerate, f.channels, f.format, f.extra_info
            if declared > MAX_SECONDS * rate:
                raise EmbkitError(f"audio: {what} lasts {declared / rate:.0f} s, more than the limit of "
                                  f"{MAX_SECONDS} s (split it into shorter files)")
            samples = _read_mono(f)
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        raise EmbkitError(f"audio: {what} is not a readable audio file ({_reason(e)})") from None
    _check_whole(what, samples, declared, log)
    if kind == "MP3":
        _check_mp3_length(what, source, len(samples), int(rate))
    return Decoded(samples, int(rate), int(channels), kind.lower())


def _read_mono(f) -> np.ndarray:
    """The rest of an open SoundFile, a block at a time, each block's channels averaged
    (read until the decoder gives no more: SoundFile.blocks pads a short file with zeros)."""
    blocks = []
    while len(block := f.read(BLOCK_FRAMES, dtype="float32", always_2d=True)):
        blocks.append(block.mean(axis=1, dtype=np.float32))
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)


def _reason(error: Exception) -> str:
    message = str(error).split(": ", 1)[-1] if "Error opening" in str(error) else str(error)
    if "does not exist" in message:  # libsndfile's words for a file it has no format for
        return "format not recognised"
    return message.removeprefix("Error : ").strip().rstrip(".") or type(error).__name__


def _check_whole(what: str, samples: np.ndarray, declared: int, log: str) -> None:
    """Refuse a clip with no samples, fewer than its header promised, or non-finite ones."""
    for found in _SHORT_CHUNK.finditer(log or ""):
        size, real = int(found.group(1)), int(found.group(2))
        if real < size and 0 < size < STREAMED_SIZE:
            raise EmbkitError(f"audio: {what} is truncated (its header promises {size} bytes of samples, "
                              f"the file holds {real})")
    if len(samples) == 0:
        raise EmbkitError(f"audio: {what} holds no samples (empty or truncated)")
    if 0 < len(samples) < declared:
        raise EmbkitError(f"audio: {what} is truncated ({len(samples)} of {declared} frames decode)")
    if not np.isfinite(samples).all():
        raise EmbkitError(f"audio: {what} holds samples that are not finite numbers")


def _check_mp3_length(what: str, source, decoded: int, rate: int) -> None:
    """Refuse an MP3 whose frames hold more than libsndfile decoded (it stops at the
    length the first frame states, or guesses: VBR without a Xing header, joined files)."""
    import mmap

    from .mp3_frames import shortfall

    if isinstance(source, (bytes, bytearray)):
        missing = shortfall(source, decoded)
    else:
        with open(source, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            missing = shortfall(data, decoded)
    if missing:
        raise EmbkitError(f"audio: {what} decodes to {decoded / rate:.1f} s of the {(decoded + missing) / rate:.1f} s "
                          "its frames hold (an mp3 without a right length header, or files joined; re-encode it)")


def to_mono(samples: np.ndarray) -> np.ndarray:
    """One channel: the mean of a (frames, channels) array's channels."""
    samples = np.asarray(samples, dtype=np.float32)
    return samples if samples.ndim == 1 else samples.mean(axis=1, dtype=np.float32)


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Mono samples at `rate` as samples at `target` (float32), by polyphase filtering."""
    if rate == target:
        return np.ascontiguousarray(samples, dtype=np.float32)
    from scipy.signal import resample_poly

    common = gcd(int(rate), int(target))
    # float32 in, float32 out: no second copy (an hour at 48 kHz is 0.7 GB)
    return resample_poly(samples, target // common, rate // common).astype(np.float32, copy=False)


def clip_at(source, rate: int) -> np.ndarray:
    """Mono float32 samples at `rate` from a path, a file's bytes, or an array that is
    already at `rate` ((frames,) or (frames, channels))."""
    if isinstance(source, np.ndarray):
        if source.ndim not in (1, 2) or source.size == 0 or not np.isfinite(source).all():
            raise EmbkitError("audio: an array must be (frames,) or (frames, channels) of finite samples, "
                              f"got shape {source.shape}")
        return to_mono(source)
    decoded = decode(source)
    return resample(decoded.samples, decoded.sample_rate, rate)
