"""Where embkit keeps its own files (exported models, later keys and registries), and
whether a file named by a client lies under the folders a server may read."""

import os
from pathlib import Path
from typing import Sequence


def embkit_home() -> Path:
    """`EMBKIT_HOME`, or the user's cache folder for embkit."""
    env = os.environ.get("EMBKIT_HOME")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "embkit"


def file_inside(path: str, roots: Sequence[str | Path]) -> bool:
    """True when `path` is a file that, with every symlink and `..` resolved, lies under
    one of `roots` (a path in metadata, which clients write, never reads a file outside)."""
    try:
        real = Path(path).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):  # missing, a symlink loop, a NUL in the name
        return False
    return real.is_file() and any(real.is_relative_to(Path(root).resolve()) for root in roots)
