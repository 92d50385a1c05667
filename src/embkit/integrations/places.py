"""Where an integration's collection lives: a local folder (or PostgreSQL URL), a
Collection handed over, or a name on a remote `embkit serve`. A place opens its
collection if there is one, and makes it on the first write otherwise, when the model
(or, for vectors computed elsewhere, the dimension) is known; if that first write is
refused, `discard` takes the new collection away again (bad input writes nothing)."""

import shutil
from pathlib import Path
from urllib.parse import quote

from ..collection import Collection, create, open as open_collection
from ..errors import EmbkitError
from ..store.pg_connection import is_url
from ..store.sqlite import DB_NAME
from .remote import RemoteCollection, Server, api_key_or_env


class LocalPlace:
    """A collection folder (made on the first write if it holds none yet), a
    PostgreSQL collection URL (opened, never made here), or a Collection given."""

    def __init__(self, where: str | Path | Collection):
        self.given = where if isinstance(where, Collection) else None
        self.where = None if self.given is not None else where
        if self.given is None and not isinstance(where, (str, Path)):
            raise EmbkitError(
                f"path: expected a collection folder, a PostgreSQL URL or a Collection, got {type(where).__name__}"
            )

    def open(self) -> Collection | None:
        """The collection, or None while the folder holds none."""
        if self.given is not None:
            return self.given
        if is_url(str(self.where)):
            return open_collection(str(self.where))
        folder = Path(self.where)
        return open_collection(folder) if (folder / DB_NAME).is_file() else None

    def create(self, model: str | None, metric: str, dim: int | None) -> Collection:
        folder = Path(self.where)
        self._before = set(folder.iterdir()) if folder.is_dir() else None  # what discard leaves
        return create(folder, model=model, metric=metric, dim=dim)

    def close(self, col: Collection | None) -> None:
        """Close the handle this place opened (a Collection given is the caller's)."""
        if col is not None and self.given is None:
            col.close()

    def discard(self, col: Collection) -> None:
        """Remove the collection `create` made: the folder as it was before."""
        col.close(save=False)
        folder = Path(self.where)
        if self._before is None:
            shutil.rmtree(folder)
            return
        for entry in set(folder.iterdir()) - self._before:
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()


class RemotePlace:
    """Collection `name` on the server at `url` (made under its --root on the first
    write if the server has none by that name; that needs an admin key)."""

    def __init__(self, url: str, name: str | None, api_key: str | None):
        if not isinstance(name, str) or not name:
            raise EmbkitError(
                "collection: a remote store needs the name of a collection on the server (collection=NAME)"
            )
        self.server, self.name = Server(url, api_key_or_env(api_key)), name

    def open(self) -> RemoteCollection | None:
        return RemoteCollection.open(self.server, self.name)

    def create(self, model: str | None, metric: str, dim: int | None) -> RemoteCollection:
        return RemoteCollection.create(self.server, self.name, model, metric, dim)

    def close(self, col: RemoteCollection | None) -> None:
        self.server.close()

    def discard(self, col: RemoteCollection) -> None:
        """Remove the collection `create` made on the server."""
        self.server.call("DELETE", f"/collections/{quote(self.name, safe='')}")
