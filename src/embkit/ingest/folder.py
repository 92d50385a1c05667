"""Many paths at once: files as named, folders walked recursively. Inside a folder, a
file that cannot be read is skipped (and reported) so the others still land; a file
named explicitly, or a bad record in any file, is still an error. `include`/`exclude`
patterns choose a folder's files (see selection.py)."""

import os
from pathlib import Path
from typing import Sequence

from .batch import Batch, UnreadableFile
from .readers import FORMATS, read_source
from .selection import chosen
from .skips import UNKNOWN, UNREADABLE, Skipped

__all__ = ["Skipped", "walk", "read_paths", "read_found"]


def walk(folder: str | Path, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[Path]:
    """Every file under `folder`, recursively, sorted by path; hidden files and hidden
    folders (names starting with '.') are left out, and so are files the patterns do not
    choose (matched on the path inside `folder`). Symlinked folders are not followed."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(root) / f for f in files if not f.startswith(".")]
    if include or exclude:
        found = [f for f in found if chosen(f.relative_to(folder).as_posix(), include, exclude)]
    return sorted(found, key=lambda p: p.parts)


def read_paths(paths: Sequence[str], text_column: str = "text", id_column: str = "id",
               include: Sequence[str] = (), exclude: Sequence[str] = (),
               skip_suffixes: Sequence[str] = ()) -> tuple[list[Batch], list[Skipped]]:
    """(batches, skipped files) for files, folders and `-` (stdin). A file found in a
    folder is named by the folder as given joined with its path inside (`docs/a/b.pdf`);
    its records get that as metadata `source` unless they carry one. Only a folder's
    files chosen by `include`/`exclude` are read; those whose suffix is in
    `skip_suffixes` (read elsewhere, e.g. images) are passed over."""
    batches, skipped = [], []
    for arg in paths:
        if arg == "-" or not Path(arg).is_dir():
            batches.append(read_source(arg, text_column, id_column))
            continue
        for file in walk(arg, include, exclude):
            if file.suffix.lower() in skip_suffixes:
                continue
            found = read_found(file, text_column, id_column)
            (skipped if isinstance(found, Skipped) else batches).append(found)
    return batches, skipped


def read_found(file: Path, text_column: str = "text", id_column: str = "id",
               name: str | None = None) -> Batch | Skipped:
    """A file found in a folder, called `name` (its path by default): its batch, whose
    records get metadata `source` (the name) unless they carry one; or, if the file
    cannot be read, why it is skipped. Ray ingest reads its folders' files with this too."""
    name = name if name is not None else str(file)
    try:
        if not file.is_file():  # a broken symlink, a socket, ...
            raise UnreadableFile(f"{name}: not a regular file")
        batch = read_source(str(file), text_column, id_column, name=name)
    except UnreadableFile as e:
        kind = UNREADABLE if file.suffix.lower() in FORMATS else UNKNOWN
        return Skipped(name, str(e).removeprefix(f"{name}: "), kind)
    except OSError as e:  # permission denied and the like: this file only
        return Skipped(name, f"{type(e).__name__}: {e.strerror or e}")
    for metadata in batch.metadatas:
        metadata.setdefault("source", name)
    return batch
