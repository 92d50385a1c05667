"""Which collections a server holds: folders given by path, and every collection under
`--root`, where new ones are created. Each is opened once and shared by all requests,
behind a readers-writer lock."""

import os
import re
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..collection import Collection, create, open as open_collection
from ..errors import EmbkitError
from ..rw_lock import ReadWriteLock
from ..store.pg_connection import PgUrl, is_url
from ..store.sqlite import DB_NAME
from .hosted_lock import HostedLock, gone

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
    lock: ReadWriteLock = field(default_factory=HostedLock)  # NotFound once the collection is deleted
    under_root: bool = False
    identity: tuple | None = None  # (device, inode) of the database file as opened; None for PostgreSQL

    def __post_init__(self):
        db = self.collection.path / DB_NAME
        if self.identity is None and db.is_file():  # a SQLite folder (a PostgreSQL collection has none)
            self.identity = _identity(db)

    def stale(self) -> bool:
        """True when the folder was deleted or replaced since it was opened (by another
        server process, with `--workers`): this handle would read and write a ghost."""
        return self.identity is not None and _identity(self.collection.path / DB_NAME) != self.identity


def _identity(db: Path) -> tuple | None:
    try:
        st = os.stat(db)
    except FileNotFoundError:
        return ("gone",)
    return st.st_dev, st.st_ino


class Collections:
    """name -> collection folder, opened lazily and kept open."""

    def __init__(self, folders: list[str | Path] = (), root: str | Path | None = None, read_url: str | None = None):
        self.root = Path(root).resolve() if root is not None else None
        self.read_url = read_url  # for PostgreSQL collections: reads go to this replica
        self._fixed: dict[str, Path | str] = {}
        self._shown: dict[str, str] = {}  # for messages
        self._open: dict[str, Hosted] = {}
        self._deleting: set[str] = set()  # names a delete is removing: not opened again meanwhile
        for folder in folders:
            if is_url(str(folder)):  # postgresql://…/db?collection=NAME, served as NAME
                location, name = str(folder), check_name(PgUrl(str(folder)).name)
                shown = PgUrl(location).public()  # never the password
            else:
                location = Path(folder).resolve()
                name = check_name(location.name)
                if not (location / DB_NAME).is_file():
                    raise EmbkitError(f"collections: {location} is not an embkit collection (no {DB_NAME})")
                shown = str(location)
            if name in self._fixed:
                raise EmbkitError(f"collections: two collections are both named {name!r} ({self._shown[name]}, "
                                  f"{shown})")
            self._fixed[name], self._shown[name] = location, shown
        if self.root is not None and not self.root.is_dir():
            raise EmbkitError(f"root: {self.root} is not a folder")
        self._lock = threading.Lock()
        try:  # a database is only known to be there by connecting: an unreachable one fails `serve` now
            for name, location in self._fixed.items():
                if is_url(str(location)):
                    self._open[name] = Hosted(open_collection(location, read_url=read_url))
        except BaseException:
            self.close()
            raise

    def names(self) -> list[str]:
        names = set(self._fixed)
        if self.root is not None:
            names.update(p.name for p in self.root.iterdir()
                         if NAME_PATTERN.match(p.name) and (p / DB_NAME).is_file())
        return sorted(names)

    def folders(self) -> list[Path]:
        """The folders of the SQLite collections served now (by path, and under --root)."""
        return [folder for folder in map(self._folder, self.names()) if isinstance(folder, Path)]

    def peek(self, name: str) -> Hosted | None:
        """The collection if it is open already and current (never opens one: cheap, lock-free)."""
        hosted = self._open.get(name)
        return None if hosted is None or hosted.stale() else hosted

    def get(self, name: str) -> Hosted:
        check_name(name)
        dropped = None
        try:
            with self._lock:
                if name in self._deleting:
                    raise NotFound(f"name: no collection named {name!r}")
                hosted = self._open.get(name)
                if hosted is not None and hosted.stale():  # deleted or replaced by another worker
                    dropped, hosted = self._open.pop(name), None
                if hosted is None:
                    folder = self._folder(name)
                    if folder is None:
                        raise NotFound(f"name: no collection named {name!r}")
                    read_url = self.read_url if is_url(str(folder)) else None
                    hosted = self._open[name] = Hosted(open_collection(folder, read_url=read_url),
                                                       under_root=name not in self._fixed)
                return hosted
        finally:  # closed once its reads end, outside the registry's lock: other collections do not wait
            if dropped is not None:
                try:
                    with dropped.lock.writing():
                        dropped.collection.close(save=False)  # saving would write into a folder that is gone
                        gone(dropped.lock, Conflict, f"name: collection {name!r} was deleted or replaced by "
                             "another server process meanwhile; send the request again")
                except (NotFound, Conflict):  # a DELETE closed it first
                    pass

    def create(self, name: str, model: str | None, metric: str, dim: int | None) -> Hosted:
        check_name(name)
        if self.root is None:
            raise EmbkitError("root: this server has no --root folder, so it cannot create collections")
        with self._lock:
            if name in self._fixed:
                raise Conflict(f"name: a collection named {name!r} exists")
            try:  # made here, exclusively: another server process creating the same name loses cleanly
                (self.root / name).mkdir()
            except FileExistsError:
                raise Conflict(f"name: a collection named {name!r} exists") from None
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
        with self._lock:  # taken before the write lock, never under it: `get` (a stale drop) and `close`
            if name in self._deleting:  # hold this lock while they wait for a collection's write lock
                raise NotFound(f"name: no collection named {name!r}")
            self._deleting.add(name)  # a request meanwhile must not open the folder being removed
            if self._open.get(name) is hosted:
                del self._open[name]
        try:
            with hosted.lock.writing():  # NotFound when another delete closed it first
                try:
                    hosted.collection.close()
                finally:  # requests that took the handle before: 404, not a closed database
                    gone(hosted.lock, NotFound, f"name: no collection named {name!r}")
                shutil.rmtree(self.root / name)
        finally:
            with self._lock:
                self._deleting.discard(name)

    def close(self) -> None:
        with self._lock:
            for hosted in self._open.values():
                with hosted.lock.writing():
                    hosted.collection.close()
            self._open.clear()

    def _folder(self, name: str) -> Path | str | None:
        if name in self._fixed:
            return self._fixed[name]
        if self.root is not None and (self.root / name / DB_NAME).is_file():
            return self.root / name
        return None
