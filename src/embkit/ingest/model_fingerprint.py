"""What identifies the vectors a model makes, for the embedding cache: a short hash of
the model's name, backend, dimension and normalization, its document prompt (the
write path embeds documents with it), embkit's version (its pooling code makes the
vectors too), and the name, size and mtime of every file of the model (its package
folder, model folder or word-vector file). Changing the weights or the
config changes the fingerprint, so the cache never serves another model's vector. No
model is loaded to compute it."""

import hashlib
import json
import os
from importlib import metadata
from pathlib import Path

from ..encoders import CATALOG
from ..encoders.catalog import package_dir
from ..encoders.prompts import declared_prompt
from ..encoders.registry import resolve
from ..errors import EmbkitError
from ..store import Space

MAX_FILES = 2000  # a model folder is a handful of files; stop stat-ing a huge tree early


def model_fingerprint(space: Space) -> str | None:
    """The fingerprint of the model that embeds texts into `space`, or None when its
    files cannot be found (an Encoder object given by a caller, a missing package): then
    nothing is cached, rather than risk serving a vector another model made."""
    try:
        described = _described(space.model)
    except (EmbkitError, OSError):
        return None
    if described is None:
        return None
    backend, files = described
    if files is None:
        return None
    facts = {"model": space.model, "backend": backend, "dim": space.dim, "normalized": space.normalized,
             "embkit": _version(), "files": files}
    prompt = declared_prompt(space.model, "document")  # the text before each stored text changes its vector
    if prompt:  # only then: the caches of models without prompts stay valid
        facts["document_prompt"] = prompt
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:32]


def _described(model: str) -> tuple[str, list] | None:
    """(backend, file stamps) of a catalog name, a registered trained model, a model
    folder or a word-vector file; None for anything else."""
    entry = CATALOG.get(model)
    if entry is not None:
        if entry.missing():
            return None
        return entry.backend, _stamps(package_dir(entry.module))
    path = Path(model).expanduser()
    if not path.exists():
        trained = resolve(model)
        if trained is None:
            return None
        path = Path(trained["path"])
    return "path", _stamps(path)


def _stamps(path: Path) -> list | None:
    """(relative name, bytes, mtime in ns) of every file under `path` (or of the file),
    sorted, following symlinked folders (weights are often linked in); caches of Python
    bytecode left out (they change without the model changing). None past MAX_FILES: a
    partial stamp could miss the file that changed, so such a model is not cached."""
    if path.is_file():
        st = path.stat()
        return [[path.name, st.st_size, st.st_mtime_ns]]
    stamps, seen = [], set()
    for root, dirs, files in os.walk(path, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:  # a link back up the tree: walked already
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            st = (Path(root) / name).stat()
            stamps.append([str((Path(root) / name).relative_to(path)), st.st_size, st.st_mtime_ns])
            if len(stamps) > MAX_FILES:
                return None
    return sorted(stamps)


def _version() -> str:
    try:
        return metadata.version("embkit")
    except metadata.PackageNotFoundError:
        return "unknown"
