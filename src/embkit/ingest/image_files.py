"""Image files as documents: which files are images, what metadata they carry (path,
size, EXIF date) and a cached thumbnail for each. A file that is not a readable image
is reported and skipped, so the others still land."""

import hashlib
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from ..atomic import atomic_write

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
THUMBNAIL_PX = 256  # the longer side
_EXIF_DATE_TAGS = (36867, 36868, 306)  # DateTimeOriginal, DateTimeDigitized, DateTime
_ORIENTATION = 274


class ImageFile(NamedTuple):
    """A readable image: its metadata and the RGB picture itself."""

    metadata: dict
    image: object  # PIL.Image.Image in RGB


def is_image_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


class Unreadable(Exception):
    """A file that does not decode as an image; the message says why."""


def read_image(path: str | Path) -> ImageFile:
    """The decoded image and its metadata: path, file bytes, width, height, format
    and, where EXIF has it, the date taken (ISO 8601)."""
    from PIL import Image, UnidentifiedImageError

    from ..encoders.clip import upright

    path = Path(path)
    try:
        with Image.open(path) as opened:
            metadata = {"path": str(path), "bytes": path.stat().st_size, "format": (opened.format or "").lower(),
                        "image": True}
            taken = _exif_date(opened)
            if taken:
                metadata["taken"] = taken
            width, height = opened.size
            if _orientation(opened) in (5, 6, 7, 8):  # shown turned by a quarter
                width, height = height, width
            metadata["width"], metadata["height"] = width, height
            picture = upright(opened)  # decodes now: a truncated file fails here, not at embedding time
            return ImageFile(metadata, picture)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        reason = "not a readable image" if isinstance(e, UnidentifiedImageError) else f"{type(e).__name__}: {e}"
        raise Unreadable(reason) from None
    except Image.DecompressionBombError as e:
        raise Unreadable(f"too large to decode safely ({e})") from None


def _orientation(image) -> int | None:
    try:
        return image.getexif().get(_ORIENTATION)
    except Exception:  # a damaged EXIF block: shown as stored
        return None


def _exif_date(image) -> str | None:
    try:
        exif = image.getexif()
        values = [exif.get(tag) for tag in _EXIF_DATE_TAGS]
        values += [exif.get_ifd(0x8769).get(tag) for tag in _EXIF_DATE_TAGS[:2]]  # the Exif sub-IFD
    except Exception:  # a damaged EXIF block costs the date, not the image
        return None
    for value in values:
        if isinstance(value, bytes):
            value = value.decode("ascii", "ignore")
        if isinstance(value, str):
            try:
                return datetime.strptime(value.strip("\x00 "), "%Y:%m:%d %H:%M:%S").isoformat()
            except ValueError:
                continue
    return None


def thumbnail_path(folder: Path, doc_id: str) -> Path:
    """Where a document's thumbnail lives: named by a hash, since ids may hold any character."""
    return folder / (hashlib.sha1(doc_id.encode()).hexdigest() + ".webp")


def thumbnail_bytes(image) -> bytes:
    """A WebP at most THUMBNAIL_PX on its longer side."""
    import io

    picture = image.copy()
    picture.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    out = io.BytesIO()
    picture.save(out, format="WEBP", quality=80)
    return out.getvalue()


def save_thumbnail(data: bytes, dest: Path) -> Path:
    """Written under a temporary name and renamed: a reader never sees half a file. The
    temp name is this writer's own (atomic_write): two requests drawing the same picture
    at once (threads or server workers) shared `NAME.tmp`, and one's rename failed (a 500)."""
    atomic_write(dest, lambda tmp: tmp.write_bytes(data))
    return dest
