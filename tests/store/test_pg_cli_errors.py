"""A PostgreSQL URL the CLI cannot use is one line `error: FIELD: …` on stderr, exit 1,
and nothing is created: an unreachable server, no `?collection=`, a bad name, a
collection that does not exist, a database without pgvector that the user cannot add
it to (pgvector is not a trusted extension: only a superuser may create it)."""

import pytest

from live_server import embkit_cli
from pg_server import PostgresServer, available, free_port

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))


@pytest.fixture(scope="module")
def server():
    server = PostgresServer().start()
    server.execute("CREATE ROLE plain LOGIN")  # not a superuser
    server.execute("CREATE DATABASE noext OWNER plain TEMPLATE template0")  # template1 has pgvector
    yield server
    server.stop()


def one_line_error(*args) -> str:
    done = embkit_cli(*args)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
    return done.stderr.strip()


def test_unreachable_server():
    url = f"postgresql://embkit@127.0.0.1:{free_port()}/db?collection=docs"
    for command in ("init", "info"):
        assert one_line_error(command, url).startswith("error: url: cannot connect to PostgreSQL (")


def test_url_without_collection(server):
    assert one_line_error("init", server.url) == "error: url: a PostgreSQL collection URL needs ?collection=NAME"
    assert one_line_error("search", server.url + "?collection=", "x").startswith("error: url: ")


@pytest.mark.parametrize("name", ["bad/name", "a..b", "-dash", "x" * 57])
def test_bad_collection_name(server, name):
    error = one_line_error("init", f"{server.url}?collection={name}")
    assert error.startswith(f"error: collection: {name!r} is not a valid collection name (1-56 characters")
    schemas = "SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'embkit_%'"
    assert server.execute(schemas) == [(0,)]


def test_missing_collection(server):
    error = one_line_error("info", f"{server.url}?collection=nothere")
    assert error == (f"error: collection: no collection 'nothere' at postgresql://embkit@127.0.0.1:{server.port}"
                     "/postgres?collection=nothere (create one with `embkit init URL`)")


def test_database_without_pgvector(server):
    url = f"postgresql://plain@127.0.0.1:{server.port}/noext?collection=docs"
    expected = ("error: url: the pgvector extension is not installed in this database "
                "(CREATE EXTENSION vector, as a superuser)")
    assert one_line_error("init", url) == expected
    assert one_line_error("info", url) == expected
    assert server.execute("SELECT count(*) FROM pg_extension WHERE extname = 'vector'", dbname="noext") == [(0,)]
    assert server.execute("SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'embkit_docs'",
                          dbname="noext") == [(0,)]


def test_read_url_on_a_folder(tmp_path):
    assert one_line_error("search", tmp_path / "nothere", "x", "--read-url", "postgresql://h/db") == \
        "error: read_url: only a PostgreSQL collection has a replica to read from"


def test_serve_an_unreachable_url():
    url = f"postgresql://embkit@127.0.0.1:{free_port()}/db?collection=docs"
    error = one_line_error("serve", url, "--no-auth", "--port", str(free_port()))
    assert error.startswith("error: url: cannot connect to PostgreSQL (")


def test_bad_read_url(server):
    url = server.create_database("readurl") + "?collection=docs"
    assert embkit_cli("init", url).returncode == 0
    unreachable = f"postgresql://embkit@127.0.0.1:{free_port()}/postgres"
    assert one_line_error("search", url, "x", "--read-url", unreachable).startswith(
        "error: read_url: cannot connect to PostgreSQL (")
    assert one_line_error("search", url, "x", "--read-url", f"{server.url}?collection=other") == \
        "error: read_url: names collection 'other', the URL 'docs'; a replica holds the same one"
