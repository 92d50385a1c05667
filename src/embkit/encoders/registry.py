"""Trained models registered by name under EMBKIT_HOME (`registry.json`), so a model
from `embkit train contrastive` is used like a catalog one: `--model NAME`."""

import json
import re
import time
from pathlib import Path

from ..atomic import atomic_write
from ..errors import EmbkitError
from ..paths import embkit_home
from .catalog import CATALOG

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def registry_path() -> Path:
    return embkit_home() / "registry.json"


def registered() -> dict[str, dict]:
    path = registry_path()
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:
        raise EmbkitError(f"registry: {path} is not valid JSON; fix or delete it") from None


def check_name(name: str) -> None:
    """Refuse a name that cannot be registered (checked before a long training run)."""
    if not isinstance(name, str) or not _NAME.match(name) or name in CATALOG:
        raise EmbkitError(f"name: {name!r} must be 1-64 letters, digits, '.', '_' or '-' and not a catalog name")


def register(name: str, folder: Path, matryoshka: list[int], dim: int | None = None,
             paired: str | None = None) -> str:
    """Record `name` → folder (replacing an older entry of that name); returns the name.
    `dim` defaults to the folder's config.json hidden_size; `paired` names the image
    tower of a two-tower model (`NAME#image`)."""
    check_name(name)
    entries = registered()
    if dim is None:
        dim = int(json.loads((folder / "config.json").read_text())["hidden_size"])
    entries[name] = {"path": str(folder.resolve()), "dim": int(dim), "matryoshka": matryoshka,
                     "modality": "text", "paired": paired,
                     "registered": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    atomic_write(registry_path(), lambda tmp: tmp.write_text(json.dumps(entries, indent=1)))
    return name


def resolve(name: str) -> dict | None:
    """The registry entry of `name`, if it is a registered model whose folder exists."""
    entry = registered().get(name) if _NAME.match(name or "") else None
    if entry is not None and not Path(entry["path"]).is_dir():
        raise EmbkitError(f"model: registered model {name!r} points to {entry['path']}, which no longer exists")
    return entry
