"""Many paths at once: files as named, folders walked recursively. Inside a folder, a
file that cannot be read is skipped (and reported) so the others still land; a file
named explicitly, or a bad record in any file, is still an error."""

import os
from pathlib import Path
from typing import NamedTuple, Sequence

from .batch import Batch, UnreadableFile
from .readers import read_source


class Skipped(NamedTuple):
    """A file a folder walk could not read, and why."""

    path: str
    reason: str


def walk(folder: str | Path) -> list[Path]:
    """Every file under `folder`, recursively, sorted by path; hidden files and hidden
    folders (names starting with '.') are left out. Symlinked folders are not followed."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(root) / f for f in files if not f.startswith(".")]
    return sorted(found, key=lambda p: p.parts)


def read_paths(paths: Sequence[str], text_column: str = "text", id_column: str = "id",
               exclude: Sequence[str] = ()) -> tuple[list[Batch], list[Skipped]]:
    """(batches, skipped files) for files, folders and `-` (stdin). A file found in a
    folder is named by the folder as given joined with its path inside (`docs/a/b.pdf`);
    its records get that as metadata `source` unless they carry one. Files in a folder
    whose suffix is in `exclude` (read elsewhere, e.g. images) are passed over."""
    batches, skipped = [], []
    for arg in paths:
        if arg == "-" or not Path(arg).is_dir():
            batches.append(read_source(arg, text_column, id_column))
            continue
        for file in walk(arg):
            if file.suffix.lower() in exclude:
                continue
            name = str(file)
            try:
                if not file.is_file():  # a broken symlink, a socket, ...
                    raise UnreadableFile(f"{name}: not a regular file")
                batch = read_source(name, text_column, id_column)
            except UnreadableFile as e:
                skipped.append(Skipped(name, str(e).removeprefix(f"{name}: ")))
                continue
            except OSError as e:  # permission denied and the like: this file only
                skipped.append(Skipped(name, f"{type(e).__name__}: {e.strerror or e}"))
                continue
            for metadata in batch.metadatas:
                metadata.setdefault("source", name)
            batches.append(batch)
    return batches, skipped
