"""Captioned media for the two-tower trainers (`embkit train clip`, `embkit train clap`):
one JSON object per line naming a file (`"image"` or `"audio"`, a path inside the media
folder), its `"caption"`, an optional `"label"` (for zero-shot scores) and an optional
`"split"` ("train" or "held_out"), which fixes the held-out pairs instead of a seeded
share (speech.py holds out whole voices this way)."""

import json
import random
from pathlib import Path
from typing import NamedTuple

from ..errors import EmbkitError

SPLITS = ("train", "held_out")
MIN_PAIRS = 20
MIN_HELD = 10


class Pair(NamedTuple):
    path: Path
    caption: str
    label: str | None
    split: str | None = None
    where: str = ""  # "captions: FILE:LINE", to name the line of a file that cannot be read


def read_captions(media: str | Path, captions: str | Path, field: str = "image") -> list[Pair]:
    """Every line checked; a bad one names its line number. `field` names the file's key
    (and the media folder's option: `images`, `audio`)."""
    media, captions = Path(media), Path(captions)
    folder_option = "images" if field == "image" else field
    if not media.is_dir():
        raise EmbkitError(f"{folder_option}: {media} is not a folder")
    if not captions.is_file():
        raise EmbkitError(f"captions: {captions} not found")
    pairs = []
    for number, line in enumerate(captions.read_text().splitlines(), start=1):
        if line.strip():
            pairs.append(_pair(line, media, field, f"captions: {captions}:{number}"))
    if len(pairs) < MIN_PAIRS:
        raise EmbkitError(f"captions: {len(pairs)} pairs in {captions}; at least {MIN_PAIRS} are needed")
    return pairs


def _pair(line: str, media: Path, field: str, where: str) -> Pair:
    try:
        row = json.loads(line)
    except ValueError as e:
        raise EmbkitError(f"{where}: not JSON ({e})") from None
    if not isinstance(row, dict) or not isinstance(row.get(field), str) \
            or not isinstance(row.get("caption"), str) or not row["caption"].strip():
        raise EmbkitError(f"{where}: expected {{\"{field}\": path, \"caption\": non-empty text, \"label\"?: text}}")
    if row.get("split") is not None and row["split"] not in SPLITS:
        raise EmbkitError(f"{where}: split must be one of {', '.join(SPLITS)}, got {row['split']!r}")
    path = media / row[field]
    if not path.is_file():
        raise EmbkitError(f"{where}: {field} {path} not found")
    label = row.get("label")
    return Pair(path, row["caption"], None if label is None else str(label), row.get("split"), where)


def split_pairs(pairs: list[Pair], holdout: float, seed: int) -> tuple[list[Pair], list[Pair]]:
    """(train, held out), split by file: a file captioned on several lines is held out
    with all of them (never trained on). Lines that carry a split keep it (the others
    train); without any, a seeded shuffle of the files holds out the last `holdout` share."""
    if any(p.split for p in pairs):
        train = [p for p in pairs if p.split != "held_out"]
        held = [p for p in pairs if p.split == "held_out"]
        if len(held) < MIN_HELD or not train:
            raise EmbkitError(f"captions: the split field holds out {len(held)} of {len(pairs)} pairs; "
                              f"at least {MIN_HELD} held out and one for training are needed")
        trained = {p.path: p for p in train}
        for p in held:
            if p.path in trained:
                raise EmbkitError(f"{p.where}: {p.path} is held out, but {trained[p.path].where} trains on it")
        return train, held
    files: dict[Path, list[Pair]] = {}
    for p in pairs:
        files.setdefault(p.path, []).append(p)
    groups = list(files.values())
    n_held = max(MIN_HELD, round(len(groups) * holdout))
    if n_held >= len(groups):
        raise EmbkitError(f"captions: {len(groups)} distinct files; at least {n_held + 1} are needed "
                          f"({n_held} held out and one for training)")
    order = list(range(len(groups)))
    random.Random(seed).shuffle(order)
    return [p for i in order[n_held:] for p in groups[i]], [p for i in order[:n_held] for p in groups[i]]
