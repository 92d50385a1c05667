"""Where a test collection lives, per backend (a plain module: conftest re-exports the
fixtures). SQLite: a folder under the test's tmp_path. PostgreSQL: a fresh collection
name in one database of one server shared by the whole session (started by the first
test that needs it), so a test pays for a schema, not for a server or a database."""

from __future__ import annotations

import itertools
from pathlib import Path

BACKENDS = ("sqlite", "postgres")
DATABASE = "embkit_tests"
_serial = itertools.count()


class Backend:
    """A factory of fresh collection locations: `backend("c")` is a folder path or a
    `postgresql://…?collection=` URL that holds no collection yet."""

    def __init__(self, name: str, tmp_path: Path | None = None, server=None):
        self.name, self._tmp, self.server = name, tmp_path, server

    @property
    def postgres(self) -> bool:
        return self.name == "postgres"

    def __call__(self, name: str = "c") -> str | Path:
        if not self.postgres:
            return self._tmp / name
        return f"{self.server.url_for(DATABASE)}?collection=t{next(_serial)}-{name}"

    def __repr__(self) -> str:
        return self.name


def start_server():
    """The session's server with its test database (the caller stops it)."""
    from pg_server import PostgresServer

    server = PostgresServer().start()
    server.create_database(DATABASE)
    return server
