"""Which collections a server holds: folders given by path, and every collection under
`--root`, where new ones are created. Each is opened once and shared by all requests,
behind a readers-writer lock."""

import re
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..collection import Collection, create, open as open_collection
from ..errors import EmbkitError
from ..store.sqlite import DB_NAME
from .rwlock import ReadWriteLock

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class NotFound(EmbkitError):
    """A collection or document that does not exist (HTTP 404)."""


class Conflict(EmbkitError):
    """A name that is taken (HTTP 409)."""


def check_name(name: str) -> str:
    """A collection name is a plain folder name: no separators, no `..`, no hidden files."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name) or ".." in name:
        raise EmbkitError(f"name: {name!r} is not a valid collection name (1-64 characters: letters, digits, "
                          "'.', '_', '-'; starting with a letter or digit; no '..')")
    return name


@dataclass
class Hosted:
    collection: Collection
    lock: ReadWriteLock = field(default_factory=ReadWriteLock)
    under_root: bool = False


class Collections:
    """name -> collection folder, opened lazily and kept open."""

    def __init__(self, folders: list[str | Path] = (), root: str | Path | None = None):
        self.root = Path(root).resolve() if root is not None else None
        self._fixed: dict[str, Path] = {}
        for folder in folders:
            folder = Path(folder).resolve()
            name = check_name(folder.name)
            if name in self._fixed:
                raise EmbkitError(f"collections: two folders are both named {name!r} ({self._fixed[name]}, {folder})")
            if not (folder / DB_NAME).is_file():
                raise EmbkitError(f"collections: {folder} is not an embkit collection (no {DB_NAME})")
            self._fixed[name] = folder
        if self.root is not None and not self.root.is_dir():
            raise EmbkitError(f"root: {self.root} is not a folder")
        self._open: dict[str, Hosted] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        names = set(self._fixed)
        if self.root is not None:
            names.update(p.name for p in self.root.iterdir()
                         if NAME_PATTERN.match(p.name) and (p / DB_NAME).is_file())
        return sorted(names)

    def get(self, name: str) -> Hosted:
        check_name(name)
        with self._lock:
            hosted = self._open.get(name)
            if hosted is None:
                folder = self._folder(name)
                if folder is None:
                    raise NotFound(f"name: no collection named {name!r}")
                hosted = self._open[name] = Hosted(open_collection(folder), under_root=name not in self._fixed)
            return hosted

    def create(self, name: str, model: str | None, metric: str, dim: int | None) -> Hosted:
        check_name(name)
        if self.root is None:
            raise EmbkitError("root: this server has no --root folder, so it cannot create collections")
        with self._lock:
            if name in self._fixed or (self.root / name).exists():
                raise Conflict(f"name: a collection named {name!r} exists")
            try:
                collection = create(self.root / name, model=model, metric=metric, dim=dim)
            except BaseException:
                shutil.rmtree(self.root / name, ignore_errors=True)  # nothing half-made stays behind
                raise
            hosted = self._open[name] = Hosted(collection, under_root=True)
            return hosted

    def delete(self, name: str) -> None:
        """Close and remove a collection under --root; folders served by path are the
        user's own and are never deleted over HTTP."""
        hosted = self.get(name)
        if not hosted.under_root:
            raise EmbkitError(f"name: {name!r} was served by path, not from --root; the server does not delete it")
        with hosted.lock.writing():
            with self._lock:
                self._open.pop(name, None)
            hosted.collection.close()
            shutil.rmtree(self.root / name)

    def close(self) -> None:
        with self._lock:
            for hosted in self._open.values():
                with hosted.lock.writing():
                    hosted.collection.close()
            self._open.clear()

    def _folder(self, name: str) -> Path | None:
        if name in self._fixed:
            return self._fixed[name]
        if self.root is not None and (self.root / name / DB_NAME).is_file():
            return self.root / name
        return None
