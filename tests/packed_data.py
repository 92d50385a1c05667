"""The test data carried in the repo (tests/data/, gzipped; see its README), unpacked
once into a folder the tests read like the original sets.

The folder is named by a hash of SHA256SUMS and appears whole or not at all (built
aside, then renamed), so test sessions running side by side never read a half-written
file, and changed data unpacks into a new folder."""

import gzip
import hashlib
import os
import shutil
from pathlib import Path

PACKED = Path(__file__).resolve().parent / "data"


def _sums(packed: Path) -> list[tuple[str, str]]:
    """(sha256, relative path) of every data file listed in SHA256SUMS."""
    rows = (line.split("  ", 1) for line in (packed / "SHA256SUMS").read_text(encoding="utf-8").splitlines())
    return [(sha, rel) for sha, rel in rows]


def _unpack_into(packed: Path, folder: Path) -> None:
    """Decompress every listed file into `folder`, checking its sha256; files end read-only
    (the tests only read them, as they read the read-only ../shared/data before)."""
    for sha, rel in _sums(packed):
        raw = gzip.decompress((packed / f"{rel}.gz").read_bytes())
        if hashlib.sha256(raw).hexdigest() != sha:
            raise RuntimeError(f"{packed / rel}.gz does not match SHA256SUMS: run tests/data/make_data.py")
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(raw)
        target.chmod(0o444)


def unpack(packed: Path = PACKED) -> Path:
    """The folder holding the unpacked sets (scifact/, stsb/, banking77/, cranfield/),
    unpacking them first if this version of the data has not been unpacked yet."""
    digest = hashlib.sha256((packed / "SHA256SUMS").read_bytes()).hexdigest()[:12]
    folder = packed / f".unpacked-{digest}"
    if folder.is_dir():
        return folder
    work = packed / f".unpacking-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    try:
        _unpack_into(packed, work)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    try:
        work.rename(folder)
    except OSError:  # another session renamed its copy first: the same bytes, use that
        if not folder.is_dir():
            raise
        shutil.rmtree(work, ignore_errors=True)
    return folder
