"""The bookkeeping of a bulk ingest: which input files a job reads (globs, folders,
files), their content fingerprints, and the manifest of an output folder, which
records what is finished so a restarted job skips it."""

import glob
import hashlib
import json
import os
from pathlib import Path
from typing import Iterable, NamedTuple

from ..atomic import atomic_write
from ..errors import EmbkitError
from .folder import walk
from .image_files import is_image_path
from .readers import FORMATS
from .skips import IMAGE, UNKNOWN, Skipped, summary

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "embkit-vectors"


class InputFile(NamedTuple):
    """An input of a job: its absolute path, its name as the user gave it (the name its
    ids and metadata carry), and whether it was found in a folder (then, as in `embkit
    add`, its records get metadata `source` and a file that cannot be read is skipped)."""

    path: Path
    name: str
    in_folder: bool


def expand_inputs(patterns: Iterable[str], exclude: Path | None = None) -> tuple[list[InputFile], list[Skipped]]:
    """(inputs, skipped files): each pattern is a file, a folder (walked as `embkit add`
    walks it) or a glob (`**` allowed); `a/*.parquet|*.jsonl` means a/*.parquet and
    a/*.jsonl. Files of every format `embkit add` reads are taken; images and unknown
    formats found by a folder or a glob are skipped (a text job has nowhere to put them),
    named ones are an error. Files under `exclude` (the output folder) are left out, so
    outputs never become inputs. Sorted by name; a pattern matching nothing is an error."""
    found: dict[Path, InputFile] = {}
    skipped: dict[str, Skipped] = {}
    for pattern in patterns:
        alternatives = pattern.split("|")
        folder = os.path.dirname(alternatives[0])
        matched = 0
        for alt in alternatives:
            alt = alt if os.path.dirname(alt) or not folder else os.path.join(folder, alt)
            named = not any(c in alt for c in "*?[") and not Path(alt).is_dir()
            for name in _matches(alt):
                path = Path(name).resolve()
                if exclude is not None and path.is_relative_to(exclude.resolve()):
                    continue
                reason = _not_text(path)
                if reason is not None:
                    if named:
                        raise EmbkitError(f"input: {name}: {reason[0]}")
                    skipped.setdefault(name, Skipped(name, *reason))
                    continue
                found.setdefault(path, InputFile(path, name, Path(alt).is_dir()))
                matched += 1
        if not matched:
            note = f" ({summary(list(skipped.values()), verbose=True)})" if skipped else ""
            raise EmbkitError(f"input: no files to read match {pattern!r}{note}")
    return sorted(found.values(), key=lambda f: f.name), sorted(skipped.values())


def _not_text(path: Path) -> tuple[str, str] | None:
    """(reason, kind) when a text job cannot read the file, else None."""
    if is_image_path(path):
        return "an image, and a text job has no image space", IMAGE
    if path.suffix.lower() not in FORMATS:
        return f"unknown format {path.suffix or '(none)'!r} (known: {', '.join(sorted(FORMATS))})", UNKNOWN
    return None


def _matches(pattern: str) -> list[str]:
    if os.path.isdir(pattern):
        return [str(p) for p in walk(pattern)]  # as `embkit add` walks (and names) a folder's files
    if os.path.isfile(pattern):
        return [pattern]
    return sorted(glob.glob(pattern, recursive=True))


def fingerprint(path: Path) -> dict:
    """The input's size and SHA-256: a shard whose bytes changed is embedded again."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


class Manifest:
    """`manifest.json` of an output folder: the model and settings, and per finished
    input shard (by absolute path) its output file, counts and input fingerprint.
    Rewritten atomically after every finished shard."""

    def __init__(self, out: Path, data: dict):
        self.out, self.data = out, data

    @classmethod
    def load(cls, out: Path) -> "Manifest | None":
        path = Path(out) / MANIFEST
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise EmbkitError(f"{path}: not a readable manifest ({e})") from None
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT \
                or not isinstance(data.get("shards"), dict):
            raise EmbkitError(f"{path}: not an embkit vectors manifest")
        return cls(Path(out), data)

    @property
    def shards(self) -> dict[str, dict]:
        return self.data["shards"]

    def finished(self, path: str, fingerprint_: dict) -> bool:
        """The input at `path` is recorded with these bytes, and its output is whole."""
        entry = self.shards.get(path)
        if not entry or entry.get("fingerprint") != fingerprint_:
            return False
        return _parquet_rows(self.out / entry["output"]) == entry.get("rows")

    def record(self, path: str, entry: dict, pending: list[str]) -> None:
        """Note a finished input shard (output, counts, fingerprint) and what is left; saved at once."""
        self.shards[path] = entry
        self.data["pending"] = pending
        self.save()

    def save(self) -> None:
        text = json.dumps(self.data, indent=1, ensure_ascii=False) + "\n"
        atomic_write(self.out / MANIFEST, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _parquet_rows(path: Path) -> int | None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path).metadata.num_rows
    except (pa.ArrowException, OSError):
        return None
