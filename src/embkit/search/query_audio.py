"""The query side of a search by example sound (`audio=`): a clip given as a file path,
a file's bytes (an upload) or mono samples at the model's rate, checked here (its kind
and length, before it is decoded) and embedded by the audio tower that fills the space."""

import io
from pathlib import Path

import numpy as np

from ..encoders import Encoder
from ..errors import EmbkitError

# A query is one vector: the model hears one window of it (CLAP crops a longer clip),
# so a long clip costs decoding and adds nothing; a minute holds any model's window.
MAX_QUERY_SECONDS = 60
# And at most a minute of 48 kHz stereo in samples (frames x channels): a few hundred KB
# of FLAC silence at 655 kHz in 8 channels declares under a minute yet decodes to
# hundreds of MB (a small request must not cost a server that much memory).
MAX_QUERY_SAMPLES = MAX_QUERY_SECONDS * 48_000 * 2


def check_query_clip(clip, rate: int) -> None:
    """Refuse a query clip of the wrong kind, longer than MAX_QUERY_SECONDS or holding more
    than MAX_QUERY_SAMPLES, in one line naming `audio`, before it is decoded. A file that is not audio is refused by the
    decoder (audio_decode.py) with the same field."""
    if isinstance(clip, np.ndarray):
        seconds, samples = (len(clip) / rate if clip.ndim in (1, 2) else 0.0), clip.size
    elif isinstance(clip, (bytes, bytearray)):
        if not clip:
            raise EmbkitError("audio: the clip given is empty (0 bytes)")
        seconds, samples = _declared(io.BytesIO(clip))
    elif isinstance(clip, (str, Path)):
        seconds, samples = _declared(str(clip)) if Path(clip).is_file() else (0.0, 0)
    else:
        raise EmbkitError(f"audio: expected an audio file path, a file's bytes or an array of samples, "
                          f"got {type(clip).__name__}")
    if seconds > MAX_QUERY_SECONDS:
        raise EmbkitError(f"audio: the query clip lasts {seconds:.1f} s, more than the limit of "
                          f"{MAX_QUERY_SECONDS} s (cut out the part to search by)")
    if samples > MAX_QUERY_SAMPLES:
        raise EmbkitError(f"audio: the query clip holds {samples:,} samples (frames x channels), more than the "
                          f"limit of {MAX_QUERY_SAMPLES:,} (a minute of 48 kHz stereo; resample or downmix it)")


def _declared(source) -> tuple[float, int]:
    """(seconds, frames x channels) its header declares; zeros when it has none the
    decoder can read (the decoder then says what is wrong)."""
    import soundfile as sf

    try:
        info = sf.info(source)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OSError):
        return 0.0, 0
    return (info.frames / info.samplerate if info.samplerate else 0.0), info.frames * info.channels


def audio_query(encoder: Encoder, clip) -> np.ndarray:
    """The (1, dim) vector of one query clip from the space's audio tower."""
    rate = getattr(encoder, "sample_rate", None)
    check_query_clip(clip, int(rate) if rate else 1)
    return encoder.encode([clip])
