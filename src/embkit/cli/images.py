"""`embkit add` for image files: into the collection's image space, one document each."""

import time

import typer

from ..collection import DEFAULT_SPACE, IMAGE_SPACE, open as open_collection
from ..errors import EmbkitError
from .common import _progress


def add_image_files(path: str, image_paths: list[str], upsert: bool, image_model: str | None, as_json: bool) -> dict:
    """Embed images into the image space, creating it from `image_model` (or the text
    model's paired image tower) if missing; unreadable images are skipped with a
    warning. Prints the summary unless --json, and returns it."""
    with open_collection(path) as col:
        if IMAGE_SPACE not in col.spaces:
            col.add_space(IMAGE_SPACE, image_model or _paired_image_tower(col, len(image_paths)))
        start = time.perf_counter()
        with _progress(len(image_paths), "embedding images", quiet=as_json) as advance:
            ids, skipped = col.add_images(image_paths, upsert=upsert, progress=advance)
        total, text_space = col.count(), DEFAULT_SPACE in col.spaces
    elapsed = time.perf_counter() - start
    for s in skipped:
        typer.echo(f"warning: skipped {s.path}: {s.reason}", err=True)
    if not as_json:
        typer.echo(f"{'upserted' if upsert else 'added'} {len(ids)} image(s) in {elapsed:.1f}s; collection holds "
                   f"{total}" + (f"; skipped {len(skipped)} file(s) that are not readable images" if skipped else ""))
    return {"added": len(ids), "images": len(ids), "skipped": [{"file": s.path, "reason": s.reason} for s in skipped],
            "seconds": round(elapsed, 3), "count": total, "text_space": text_space}


def _paired_image_tower(col, n: int) -> str:
    paired = getattr(col.encoder, "paired", None) if col.space.model != "none" else None
    if paired is None:
        raise EmbkitError(f"files: {n} image(s) given but the collection has no image space and its model no "
                          "image tower; pass --image-model (a CLIP folder) or create the collection with "
                          "`embkit init PATH --model FOLDER#image`")
    return paired
