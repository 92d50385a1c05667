"""Where embkit keeps its own files (exported models, later keys and registries)."""

import os
from pathlib import Path


def embkit_home() -> Path:
    """`EMBKIT_HOME`, or the user's cache folder for embkit."""
    env = os.environ.get("EMBKIT_HOME")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "embkit"
