"""Files an `add` passed over, by kind, and the one warning line that sums them up
(`skipped 159 files: 157 images (no image space; ...), 2 unknown formats (.css, .svg)`)."""

from pathlib import Path
from typing import NamedTuple, Sequence

IMAGE = "image"              # an image, and the collection has no image space to take it
UNKNOWN = "unknown format"   # a suffix no reader knows
UNREADABLE = "unreadable"    # known format, but the file does not read (corrupt pdf, not UTF-8, ...)
NOT_IMAGE = "not an image"   # any other file, and the collection holds images only
AUDIO = "audio"              # a sound, and the collection has no audio space to take it
NOT_AUDIO = "not audio"      # any other file, and the collection holds audio only
NOT_MEDIA = "not media"      # any other file, and the collection holds images and audio only
KINDS = (IMAGE, AUDIO, UNKNOWN, UNREADABLE, NOT_IMAGE, NOT_AUDIO, NOT_MEDIA)
# what a collection without a text space holds (by its image and audio spaces), and the kind of its skips
_HOLDS = {(True, False): ("images", NOT_IMAGE), (False, True): ("audio", NOT_AUDIO),
          (True, True): ("images and audio", NOT_MEDIA)}


class Skipped(NamedTuple):
    """A file an add could not take, why, and which kind of reason that is."""

    path: str
    reason: str
    kind: str = UNREADABLE


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _part(kind: str, files: list[Skipped]) -> str:
    n = len(files)
    if kind == IMAGE:
        return f"{_plural(n, 'image')} (no image space; add one with --image-model)"
    if kind == AUDIO:
        return f"{_plural(n, 'audio file')} (no audio space; add one with --audio-model)"
    if kind == UNKNOWN:
        suffixes = sorted({Path(s.path).suffix.lower() or "(none)" for s in files})
        return f"{_plural(n, 'unknown format')} ({', '.join(suffixes)})"
    if kind == NOT_IMAGE:
        return f"{_plural(n, 'non-image file')} (the collection holds images only)"
    if kind == NOT_AUDIO:
        return f"{_plural(n, 'non-audio file')} (the collection holds audio only)"
    if kind == NOT_MEDIA:
        return f"{_plural(n, 'file')} neither image nor audio (the collection holds images and audio only)"
    return _plural(n, "unreadable file")


def holds(spaces) -> str:
    """What a collection without a text space holds, by its space names: "holds images
    only", "holds audio only", "holds images and audio only" (else "has no text space")."""
    held = _HOLDS.get(("image" in spaces, "audio" in spaces))
    return f"holds {held[0]} only" if held else "has no text space"


def not_held(path: str, spaces) -> Skipped:
    """A file only a text space could take, in a collection (with these space names)
    that has none: the reason says what the collection holds instead."""
    kind = _HOLDS.get(("image" in spaces, "audio" in spaces), ("", NOT_MEDIA))[1]
    reason = {NOT_IMAGE: "not an image", NOT_AUDIO: "not audio"}.get(kind, "neither an image nor audio")
    return Skipped(path, f"{reason} (the collection {holds(spaces)})", kind)


def summary(skipped: Sequence[Skipped], verbose: bool = False) -> str:
    """One line over all skipped files, counts per kind in a fixed order; without
    `verbose` it ends by saying how to see each file. Empty when nothing was skipped."""
    if not skipped:
        return ""
    parts = [_part(kind, [s for s in skipped if s.kind == kind]) for kind in KINDS
             if any(s.kind == kind for s in skipped)]
    hint = "" if verbose else "; --verbose lists them"
    return f"skipped {_plural(len(skipped), 'file')}: {', '.join(parts)}{hint}"
