"""Output folders of training commands: refused if they exist (unless overwriting),
built under a temporary name beside the target and renamed when complete, so an
interrupted run never leaves a half-written model under the output name."""

import json
import os
import shutil
from pathlib import Path

from ..errors import EmbkitError

SUMMARY = "embkit-train.json"


def refuse_existing(out: Path, overwrite: bool) -> None:
    """An output that exists is only replaced when asked to."""
    if out.exists() and not out.is_dir():
        raise EmbkitError(f"output: {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise EmbkitError(f"output: {out} exists and is not empty (use --overwrite to replace it)")


def prepare_output(out: Path, overwrite: bool) -> Path:
    """Check `out` and return an empty staging folder beside it."""
    refuse_existing(out, overwrite)
    staging = out.parent / f".{out.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)  # left by an interrupted run
    staging.mkdir(parents=True)
    return staging


def finish_output(staging: Path, out: Path) -> None:
    """Put the complete staging folder in place of `out` (replacing an old one)."""
    if out.exists():
        old = out.parent / f".{out.name}.old"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out, old)
        os.replace(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, out)


def write_summary(folder: Path, summary: dict) -> None:
    (folder / SUMMARY).write_text(json.dumps(summary, indent=1, ensure_ascii=False))


def read_summary(folder: Path) -> dict | None:
    path = folder / SUMMARY
    return json.loads(path.read_text()) if path.is_file() else None
