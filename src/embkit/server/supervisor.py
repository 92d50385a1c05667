"""`embkit serve --workers N`: N uvicorn servers on one port, each on its own listening
socket (SO_REUSEPORT), so the kernel spreads connections over the processes.

uvicorn's own process manager shares one socket, and the worker that wakes first
accepts every connection waiting at that moment: a burst of keep-alive clients could
all land on one worker (measured: 8 benchmark clients on one core while the other
idled). A worker that dies is restarted on its socket (connections the kernel hands
that socket wait for it meanwhile); SIGINT or SIGTERM stops them all.

Every process here is counted in the server's memory, so each holds only what it uses.
`embkit serve` checks its arguments and binds the sockets with the whole library loaded,
then turns itself (same pid) into a lean Python that imports nothing of embkit's
(`become_supervisor`: ~12 MiB instead of ~55). Workers are plain `python -c` subprocesses
that inherit their socket's descriptor: a fresh interpreter, as uvicorn's spawned
workers are, without multiprocessing's resource tracker (one more process, ~12 MiB)."""

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

log = logging.getLogger("embkit.server")

LOG_FORMAT = "%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"
QUICK_DEATH_S = 10.0  # a worker dying this soon after its start, QUICK_DEATHS times in a row, stops the server
QUICK_DEATHS = 3
STOP_GRACE_S = 20.0


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


SOCKET_ENV, OPTIONS_ENV, SUPERVISOR_ENV = "EMBKIT_SERVE_SOCKET_FD", "EMBKIT_SERVE_UVICORN", "EMBKIT_SERVE_SUPERVISOR"
PARENT_ENV = "EMBKIT_SERVE_SUPERVISOR_PID"
PR_SET_PDEATHSIG = 1  # linux/prctl.h
WORKER_CODE = "from embkit.server.supervisor import serve_worker; serve_worker()"
# this file run as a module of its own (not `embkit.server.supervisor`, which would load the package)
LEAN_CODE = ("import importlib.util, sys; spec = importlib.util.spec_from_file_location('embkit_supervisor', "
             "sys.argv[1]); module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module); "
             "sys.exit(module.supervise_from_env())")


def serve_worker() -> None:
    """A worker process: one uvicorn server on the socket it inherited."""
    _stop_with_supervisor(int(os.environ[PARENT_ENV]))
    import uvicorn

    sock = socket.socket(fileno=int(os.environ[SOCKET_ENV]))
    config = uvicorn.Config("embkit.server.workers:worker_app", factory=True, **json.loads(os.environ[OPTIONS_ENV]))
    uvicorn.Server(config).run(sockets=[sock])


def _stop_with_supervisor(supervisor: int) -> None:
    """SIGTERM (a graceful stop) to this worker when its supervisor dies, even by SIGKILL:
    no orphan goes on serving the port, beside a server started anew on it (SO_REUSEPORT)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != supervisor:  # it died before the line above
        os.kill(os.getpid(), signal.SIGTERM)


class _Slot:
    def __init__(self, sock: socket.socket, options: dict):
        self.sock, self.options = sock, options
        self.quick_deaths = 0
        self.start()

    def start(self) -> None:
        env = {**os.environ, SOCKET_ENV: str(self.sock.fileno()), OPTIONS_ENV: json.dumps(self.options),
               PARENT_ENV: str(os.getpid())}
        self.process = subprocess.Popen([sys.executable, "-c", WORKER_CODE], env=env, pass_fds=[self.sock.fileno()],
                                        stdin=subprocess.DEVNULL)
        self.started = time.monotonic()

    def alive(self) -> bool:
        return self.process.poll() is None


def bind_sockets(workers: int, host: str, port: int) -> list[socket.socket]:
    """One listening socket per worker, all on one port."""
    first = listening_socket(host, port)
    port = first.getsockname()[1]  # port 0: the others join the port the first one got
    return [first] + [listening_socket(host, port) for _ in range(workers - 1)]


def become_supervisor(workers: int, host: str, port: int, **options) -> None:
    """Bind the sockets (a port in use fails here, as the CLI's error), then replace this
    process by a lean interpreter that supervises `workers` processes on them until
    SIGINT/SIGTERM and exits with `run_workers`' code. Never returns."""
    sockets = bind_sockets(workers, host, port)
    for sock in sockets:
        sock.set_inheritable(True)
    options = {**options, "host": host, "port": sockets[0].getsockname()[1]}
    os.environ[SUPERVISOR_ENV] = json.dumps({"fds": [sock.fileno() for sock in sockets], "options": options})
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-c", LEAN_CODE, __file__])


def supervise_from_env() -> int:
    """The lean supervisor's entry (see `become_supervisor`)."""
    setup = json.loads(os.environ.pop(SUPERVISOR_ENV))
    logging.basicConfig(level=setup["options"].get("log_level", "info").upper(), format=LOG_FORMAT)
    return supervise([socket.socket(fileno=fd) for fd in setup["fds"]], setup["options"])


def run_workers(workers: int, host: str, port: int, **options) -> int:
    """Serve with `workers` processes until SIGINT/SIGTERM; returns the exit code.
    `options` go to uvicorn.Config (log_level, access_log, ...)."""
    sockets = bind_sockets(workers, host, port)
    return supervise(sockets, {**options, "host": host, "port": sockets[0].getsockname()[1]})


def supervise(sockets: list[socket.socket], options: dict) -> int:
    """A worker per socket, restarted when it dies, until SIGINT/SIGTERM; the exit code."""
    host, port, workers = options["host"], options["port"], len(sockets)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    slots = [_Slot(sock, options) for sock in sockets]
    log.info("serving on %s:%d with %d worker processes (one socket each)", host, port, workers)
    code = 0
    while not stopping.wait(0.5):
        for slot in slots:
            if slot.alive() or stopping.is_set():  # Ctrl+C reaches the workers too
                continue
            quick = time.monotonic() - slot.started < QUICK_DEATH_S
            slot.quick_deaths = slot.quick_deaths + 1 if quick else 0
            if slot.quick_deaths >= QUICK_DEATHS:
                log.error("worker %d keeps exiting at start (exit code %s); stopping", slot.process.pid,
                          slot.process.returncode)
                stopping.set()
                code = 1
                break
            log.warning("worker %d exited (code %s); starting another", slot.process.pid, slot.process.returncode)
            slot.start()
    for slot in slots:
        if slot.alive():
            slot.process.terminate()  # SIGTERM: uvicorn's graceful shutdown (collections closed and saved)
    deadline = time.monotonic() + STOP_GRACE_S
    for slot in slots:
        try:
            slot.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            slot.process.kill()
            slot.process.wait()
    for sock in sockets:
        sock.close()
    return code
