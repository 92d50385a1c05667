"""What result pages show of an audio document: its file (for a player) and a waveform
picture of it, cached in the collection's folder. A server passes `roots`: a file named
in metadata (which clients write) is read only when it lies under one of them, so a
path in metadata never makes the server read a file of its choosing. The collection
hands itself in (this module sits below collection/)."""

import hashlib
import os
import re
from pathlib import Path
from typing import Protocol, Sequence

from .errors import EmbkitError
from .ingest.audio_waveform import waveform_svg
from .ingest.image_files import save_thumbnail
from .paths import file_inside

WAVEFORMS = "waveforms"
WAVEFORM_CAP = 1000  # drawings kept per collection (~5 KB each); the least recently shown go first
UPLOADS = "sounds"  # sound files the collection keeps itself (HTTP uploads), named by their content's hash
_CONTENT_NAME = re.compile(r"^[0-9a-f]{40}(\.[a-z0-9]{1,7})?$")  # sha1 hex + the upload's suffix
AUDIO_TYPES = {"wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg", "mp3": "audio/mpeg"}


class AudioRecords(Protocol):
    """What audio media need of a collection (a `Collection` is one)."""

    path: Path  # the collection's folder: the waveform cache lives under it

    def get(self, ids: Sequence[str]) -> list: ...


def audio_source(col: AudioRecords, doc_id: str, roots: Sequence[str | Path] | None = None) -> Path | None:
    """The file of an audio document or of one of its windows (`ID#i`), or None when the
    record is not audio, its file is gone, or (given `roots`) lies outside them."""
    found = col.get([doc_id]) if isinstance(doc_id, str) else []
    metadata = found[0].metadata if found else {}
    source = metadata.get("path")
    if not isinstance(source, str) or "duration_s" not in metadata or "sample_rate" not in metadata:
        return None
    kept = _kept_copy(col, source)
    if kept is not None:  # an upload: the collection's own copy, wherever its folder now lies
        return kept.resolve()
    if roots is not None:
        return Path(source).resolve() if file_inside(source, roots) else None
    return Path(source) if Path(source).is_file() else None


def _kept_copy(col: AudioRecords, source: str) -> Path | None:
    """The collection's own copy of an uploaded sound `source` names (uploads are named by
    their content's hash, so it is found by name after the folder moved), never a file
    outside the upload folder."""
    name = Path(source).name
    if not _CONTENT_NAME.match(name):
        return None
    copy = col.path / UPLOADS / name
    return copy if file_inside(str(copy), [col.path / UPLOADS]) else None


def media_type(path: Path) -> str:
    """The Content-Type a browser plays `path` as."""
    return AUDIO_TYPES.get(path.suffix.lower().lstrip("."), "application/octet-stream")


def waveform(col: AudioRecords, doc_id: str, roots: Sequence[str | Path] | None = None) -> bytes | None:
    """The SVG waveform of an audio document's file, cached in the collection's folder
    (drawn on first use, drawn again when the file changes: the cache is named by its
    path, then its size and mtime); None when there is no file to draw or it does not
    decode. A new drawing replaces the one of the file's older content, and the cache
    keeps WAVEFORM_CAP drawings, the least recently shown removed first (those of deleted
    documents among them). A folder that cannot be written (a read-only mount, a full
    disk) keeps no copy: the picture is drawn each time instead of failing."""
    source = audio_source(col, doc_id, roots)
    if source is None:
        return None
    try:
        stat = source.stat()
        content = _digest(f"{stat.st_size}|{stat.st_mtime_ns}")
        dest = col.path / WAVEFORMS / f"{_digest(str(source.resolve()))}-{content}.svg"  # _prune reads the first half
        svg = _cached(dest)
        if svg:
            return svg
        svg = waveform_svg(source)
    except (EmbkitError, OSError):  # the file broke or went since it was added: no picture, the document stays
        return None
    try:
        save_thumbnail(svg, dest)
        _prune(dest)
    except OSError:  # unwritable folder: served uncached
        pass
    return svg


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def _cached(dest: Path) -> bytes | None:
    """The kept drawing `dest`, marked as just shown, or None when there is none (another
    request's pruning may remove it at any moment: then it is drawn again) or it is empty."""
    try:
        svg = dest.read_bytes()
    except FileNotFoundError:
        return None
    if svg:
        _touch(dest)
    return svg or None


def _touch(path: Path) -> None:
    """Mark a drawing as just shown (its mtime orders the pruning); a read-only folder keeps
    its order, and a drawing pruned meanwhile stays gone (touch() would create it empty)."""
    try:
        os.utime(path)
    except OSError:
        pass


def _prune(kept: Path) -> None:
    """Remove the drawings of `kept`'s file's older content, then the least recently
    shown beyond WAVEFORM_CAP (never `kept`). Another process pruning at once removes
    the same files: a file already gone is skipped."""
    same_file = kept.name.split("-")[0] + "-"
    ages = []
    for path in kept.parent.glob("*.svg"):
        try:
            if path != kept and path.name.startswith(same_file):
                path.unlink()
            elif path != kept:
                ages.append((path.stat().st_mtime_ns, path.name, path))
        except FileNotFoundError:
            continue
    for _, _, path in sorted(ages)[:max(0, len(ages) + 1 - WAVEFORM_CAP)]:
        path.unlink(missing_ok=True)
