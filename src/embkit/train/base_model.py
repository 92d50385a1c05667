"""The transformer folder a training command starts from: a catalog name (its packaged
weights) or a local model folder."""

from pathlib import Path

from ..encoders.catalog import CATALOG, package_dir
from ..errors import EmbkitError


def base_folder(base: str) -> Path:
    entry = CATALOG.get(base)
    if entry is not None:
        if entry.backend == "static":
            raise EmbkitError(f"base: {base!r} is a static word-vector model; training starts from a transformer")
        if entry.missing():
            raise EmbkitError(f"base: model {base!r} is not installed: {entry.install}")
        return package_dir(entry.module) / "model"  # the transformer weights every MiniLM entry shares
    folder = Path(base).expanduser()
    if not (folder / "config.json").is_file():
        raise EmbkitError(f"base: {base!r} is neither a catalog model nor a model folder with config.json")
    return folder
