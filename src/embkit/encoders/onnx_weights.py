"""ONNX models whose weights sit in a file of their own, which onnxruntime maps into
memory instead of copying.

A model file with its weights inside is parsed into protobuf buffers, copied into
tensors and then prepacked: all-MiniLM-L6-v2 (86 MiB) costs a process ~130 MiB, with a
load peak of ~150 MiB more. With the weights apart, onnxruntime maps the file, keeps
what it prepacks, and the rest (the 45 MiB word-embedding table, of which a query
reads a few rows) are page-cache pages shared by every process: ~55 MiB a process,
and the same vectors to the bit. The copy is made once per model file and kept under
EMBKIT_HOME/models, named by a fingerprint of its source, like export.py's files.
"""

import hashlib
import os
import shutil
from pathlib import Path

from ..atomic import fsync_path, temp_name
from ..paths import embkit_home

MIN_BYTES = 8 * 1024 * 1024  # smaller files (or ones whose weights are apart already) load as they are
LAYOUT_VERSION = "1"  # bump when the layout written here changes


def weights_apart(onnx_path: Path) -> Path:
    """The model at `onnx_path` with its weights in a side file (`NAME.data`), made and
    cached if missing; `onnx_path` itself when it is small, or when EMBKIT_HOME cannot
    be written (the model then loads as before, copied)."""
    onnx_path = Path(onnx_path)
    stat = onnx_path.stat()
    if stat.st_size < MIN_BYTES:
        return onnx_path
    # inode and ctime too: a file copied over with its size and mtime kept (cp -p, rsync -t)
    # gets a new inode or ctime, which no utime can set back
    key = f"{onnx_path.resolve()}|{file_identity(stat)}|{LAYOUT_VERSION}"
    target = embkit_home() / "models" / f"{onnx_path.stem}-{hashlib.sha256(key.encode()).hexdigest()[:16]}-mapped.onnx"
    if not (target.exists() and target.with_name(target.name + ".data").exists()):  # both, or made again
        try:
            _write(onnx_path, target, file_identity(stat))
        except OSError:
            return onnx_path
    return target


def file_identity(stat: os.stat_result) -> str:
    """A file's identity for a cache key: a file copied over with its size and mtime
    kept (`rsync -t`, `cp -p`) still gets a new inode or ctime."""
    return f"{stat.st_dev}|{stat.st_ino}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ctime_ns}"


def _write(source: Path, target: Path, identity: str) -> None:
    """Both files are written in a private folder, then renamed into place, the weights
    first: a reader never sees a model without its weights. Two processes writing at once
    write the same bytes, so whichever rename lands last changes nothing (a process that
    mapped the first weights file keeps its pages)."""
    import onnx
    from onnx.external_data_helper import load_external_data_for_model

    with open(source, "rb") as file:  # the file the key was made from, not one renamed over it since
        if file_identity(os.fstat(file.fileno())) != identity:
            raise OSError(f"{source} changed while it was being read")
        model = onnx.load(file, load_external_data=False)
    load_external_data_for_model(model, str(source.parent))
    target.parent.mkdir(parents=True, exist_ok=True)
    work = target.parent / temp_name(target.name)
    work.mkdir()
    try:
        data = target.name + ".data"
        onnx.save_model(model, str(work / target.name), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data, size_threshold=1024)
        del model
        for name in (data, target.name):  # on disk before the renames: a crash leaves no half-written file in place
            fsync_path(work / name)
        os.replace(work / data, target.parent / data)
        os.replace(work / target.name, target)
        fsync_path(target.parent)
    finally:
        shutil.rmtree(work, ignore_errors=True)

