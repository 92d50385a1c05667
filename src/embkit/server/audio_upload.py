"""Checks on sound files uploaded over HTTP (`POST /collections/{name}/audio`), made on
the bytes before any file is kept: each bad file refused in one line naming its field
(and the limit it breaks), so a bad upload changes nothing."""

import io

from ..encoders.audio_decode import decode
from ..errors import EmbkitError

# An upload is decoded whole and embedded window by window: a compressed file within the
# body limit could still last hours, so its declared length is bounded too.
MAX_UPLOAD_SECONDS = 600
# ... and so is its size once decoded: a small FLAC of silence can declare 8 channels at
# 655 kHz, gigabytes of samples within 600 s (ten minutes of 48 kHz stereo is the cap).
MAX_UPLOAD_SAMPLES = MAX_UPLOAD_SECONDS * 48_000 * 2
_SUFFIXES = {"wav": ".wav", "wavex": ".wav", "flac": ".flac", "ogg": ".ogg", "mp3": ".mp3"}


def check_sound(raw: bytes, field: str) -> str:
    """The suffix the stored copy takes (from what the bytes are: a client's file name
    may lie, and the player's Content-Type comes from the suffix). Refuses a file that
    is empty, longer than MAX_UPLOAD_SECONDS (by its header, before decoding), or that
    does not decode whole (not audio, corrupt, truncated), as `add_audio` would skip it."""
    import soundfile as sf

    if not raw:
        raise EmbkitError(f"{field}: the file given is empty (0 bytes)")
    try:
        info = sf.info(io.BytesIO(raw))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OSError):
        raise EmbkitError(f"{field}: not a readable audio file (wav, flac, ogg or mp3)") from None
    seconds = info.frames / info.samplerate if info.samplerate else 0.0
    if seconds > MAX_UPLOAD_SECONDS:
        raise EmbkitError(f"{field}: the clip lasts {seconds:.1f} s, more than the limit of "
                          f"{MAX_UPLOAD_SECONDS} s per uploaded file")
    samples = info.frames * info.channels
    if samples > MAX_UPLOAD_SAMPLES:
        raise EmbkitError(f"{field}: the clip holds {samples:,} samples (frames x channels), more than the limit "
                          f"of {MAX_UPLOAD_SAMPLES:,} per uploaded file (ten minutes of 48 kHz stereo)")
    try:
        kind = decode(raw, what="FILE").format
    except EmbkitError as e:
        raise EmbkitError(f"{field}: the file {str(e).removeprefix('audio: FILE ')}") from None
    return _SUFFIXES.get(kind, "")
