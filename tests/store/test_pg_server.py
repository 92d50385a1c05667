"""The test PostgreSQL server (tests/pg_server.py): pgvector works, it listens on loopback
only, a streaming replica follows the primary and refuses writes, and stop() leaves no
process or folder behind."""

import os
import time

import pytest

from pg_server import PostgresServer, available, wait_replica_caught_up

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))


def listening(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket the process listens on."""
    import psutil

    return [(c.laddr.ip, c.laddr.port) for c in psutil.Process(pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN]


def gone(pid: int, timeout: float = 5.0) -> bool:
    from pg_server import _pid_alive

    deadline = time.monotonic() + timeout
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture(scope="module")
def servers():
    primary = PostgresServer().start()
    try:
        replica = primary.add_replica()
        yield primary, replica
    finally:
        primary.stop()


def test_vector_round_trip(servers):
    primary, _ = servers
    url = primary.create_database("roundtrip")
    assert url == f"postgresql://embkit@127.0.0.1:{primary.port}/roundtrip"
    import numpy as np
    import psycopg
    from pgvector.psycopg import register_vector

    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        register_vector(conn)
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, embedding vector(3))")
        conn.execute("INSERT INTO items VALUES (1, %s)", (np.array([1.0, 2.0, 3.5]),))
        (got,) = conn.execute("SELECT embedding FROM items WHERE id = 1").fetchone()
        got = got.to_numpy() if hasattr(got, "to_numpy") else got  # a Vector since pgvector 0.4
        assert np.asarray(got).tolist() == [1.0, 2.0, 3.5]
        (dist,) = conn.execute("SELECT embedding <=> %s FROM items", (np.array([1.0, 2.0, 3.5]),)).fetchone()
        assert abs(dist) < 1e-6


def test_listens_on_loopback_only(servers):
    for server in servers:
        sockets = listening(server.pid)
        assert sockets == [("127.0.0.1", server.port)], sockets
        assert (server.socket_dir / f".s.PGSQL.{server.port}").exists()
        assert server.socket_dir.is_relative_to(server.folder)


def test_replica_follows_the_primary_and_refuses_writes(servers):
    import psycopg

    primary, replica = servers
    assert replica.port != primary.port and replica.folder != primary.folder
    assert primary.execute("SELECT pg_is_in_recovery()") == [(False,)]
    assert replica.execute("SELECT pg_is_in_recovery()") == [(True,)]
    assert primary.execute("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == [(1,)]
    primary.execute("CREATE TABLE notes (id int PRIMARY KEY, body text)")
    primary.execute("INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 100) g")
    wait_replica_caught_up(primary, replica)
    assert replica.execute("SELECT count(*), max(body) FROM notes") == [(100, "note 99")]
    primary.execute("UPDATE notes SET body = 'changed' WHERE id = 7")
    wait_replica_caught_up(primary, replica)
    assert replica.execute("SELECT body FROM notes WHERE id = 7") == [("changed",)]
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        replica.execute("INSERT INTO notes VALUES (1000, 'no')")
    # the vector extension came over with the base backup
    assert replica.execute("SELECT '[1,2,3]'::vector <-> '[1,2,4]'::vector") == [(1.0,)]


def test_stop_ends_the_processes_and_removes_the_folders():
    primary = PostgresServer().start()
    replica = primary.add_replica()
    pids = [primary.pid, replica.pid]
    folders = [primary.folder, replica.folder]
    assert all(pids) and all(f.is_dir() for f in folders)
    if os.geteuid() == 0:  # the server runs as the postgres user, never as root
        import psutil

        assert {psutil.Process(p).username() for p in pids} == {"postgres"}
    primary.stop()  # stops its replica first
    assert all(gone(p) for p in pids)
    assert not any(f.exists() for f in folders)
    assert not primary.is_running() and not replica.is_running()
    primary.stop()  # idempotent
    replica.stop()
