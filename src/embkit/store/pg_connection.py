"""Naming and reaching a PostgreSQL collection: the `postgresql://…?collection=NAME`
URL (and its replica's), and connections with pgvector's types registered."""

import re
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ..errors import EmbkitError
from ..paths import embkit_home

URL_SCHEMES = ("postgresql://", "postgres://")
SCHEMA_PREFIX = "embkit_"
MAX_NAME = 63 - len(SCHEMA_PREFIX)  # PostgreSQL identifiers are at most 63 bytes
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def is_url(path) -> bool:
    return isinstance(path, str) and path.startswith(URL_SCHEMES)


class PgUrl:
    """A collection URL split into the server's conninfo, the collection name and the
    optional replica URL."""

    def __init__(self, url: str, read_url: str | None = None):
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        name = query.pop("collection", None)
        read_url = read_url or query.pop("read_url", None)
        if not name:
            raise EmbkitError("url: a PostgreSQL collection URL needs ?collection=NAME")
        if len(name) > MAX_NAME or not _NAME.match(name) or ".." in name:
            raise EmbkitError(f"collection: {name!r} is not a valid collection name (1-{MAX_NAME} characters: "
                              "letters, digits, '.', '_', '-', starting with a letter or digit)")
        self.name, self.read_url = name, _replica(read_url, name) if is_url(read_url) else read_url
        self.conninfo = urlunsplit(parts._replace(query=urlencode(query)))
        self.schema = SCHEMA_PREFIX + name

    def public(self) -> str:
        """The URL without its password (for info and logs)."""
        parts = urlsplit(self.conninfo)
        host = parts.hostname or ""
        user = quote(parts.username) + "@" if parts.username else ""
        netloc = user + host + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc, query=urlencode({"collection": self.name})))

    def cache_folder(self) -> Path:
        """A local folder for derived caches, one per server, database and collection."""
        parts = urlsplit(self.conninfo)
        server = re.sub(r"[^A-Za-z0-9._-]", "_", f"{parts.hostname or 'local'}-{parts.port or 5432}"
                                                   f"-{parts.path.strip('/') or 'postgres'}")
        return embkit_home() / "postgres" / server / self.name


def _replica(read_url: str, name: str) -> str:
    """A replica URL as libpq takes it: a `?collection=` (the primary URL's form) is
    dropped, and must name the same collection."""
    parts = urlsplit(read_url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    other = query.pop("collection", name)
    if other != name:
        raise EmbkitError(f"read_url: names collection {other!r}, the URL {name!r}; a replica holds the same one")
    return urlunsplit(parts._replace(query=urlencode(query)))


READ_ONLY = ("{field}: the server is read-only (a streaming replica?); write through the primary's URL "
             "and give the replica as read_url")


def connect(conninfo: str, create_extension: bool = False, field: str = "url"):
    try:
        import psycopg
        from pgvector.psycopg import register_vector
    except ImportError:
        raise EmbkitError("url: the PostgreSQL backend needs `pip install 'embkit[postgres]'`") from None
    try:
        # No server-side prepared statements: psycopg prepares a query on its 5th run with a
        # round trip of its own, and a generic plan would ignore the LIMIT a search binds.
        conn = psycopg.connect(conninfo, autocommit=True, prepare_threshold=None)
    except psycopg.Error as e:
        raise EmbkitError(f"{field}: cannot connect to PostgreSQL ({str(e).strip().splitlines()[0]})") from None
    try:
        if create_extension:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(conn)
        _load_vectors_as_bytes(conn)
    except psycopg.errors.ReadOnlySqlTransaction:  # CREATE EXTENSION on a hot standby
        conn.close()
        raise EmbkitError(READ_ONLY.format(field=field)) from None
    except psycopg.ProgrammingError:
        conn.close()
        raise EmbkitError(f"{field}: the pgvector extension is not installed in this database "
                          "(CREATE EXTENSION vector, as a superuser)") from None
    return conn


def _load_vectors_as_bytes(conn) -> None:
    """Binary `vector` values arrive as their float32 bytes (pgvector's own loader makes
    a Python object per vector): `vectors()` then joins them into one array at once."""
    from psycopg.adapt import Loader
    from psycopg.pq import Format
    from psycopg.types import TypeInfo

    class VectorBytes(Loader):
        format = Format.BINARY

        def load(self, data) -> bytes:
            return bytes(data[4:])  # after the header: uint16 dim, uint16 unused

    conn.adapters.register_loader(TypeInfo.fetch(conn, "vector").oid, VectorBytes)
