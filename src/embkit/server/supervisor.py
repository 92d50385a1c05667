"""`embkit serve --workers N`: N uvicorn servers on one port, each on its own listening
socket (SO_REUSEPORT), so the kernel spreads connections over the processes.

uvicorn's own process manager shares one socket, and the worker that wakes first
accepts every connection waiting at that moment: a burst of keep-alive clients could
all land on one worker (measured: 8 benchmark clients on one core while the other
idled). A worker that dies is restarted on its socket (connections the kernel hands
that socket wait for it meanwhile); SIGINT or SIGTERM stops them all."""

import logging
import multiprocessing
import signal
import socket
import threading
import time

log = logging.getLogger("embkit.server")

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


def _serve(sock: socket.socket, options: dict) -> None:
    """A worker process: one uvicorn server on its own socket."""
    import uvicorn

    config = uvicorn.Config("embkit.server.workers:worker_app", factory=True, **options)
    uvicorn.Server(config).run(sockets=[sock])


class _Slot:
    def __init__(self, sock: socket.socket, options: dict, context):
        self.sock, self.options, self.context = sock, options, context
        self.quick_deaths = 0
        self.start()

    def start(self) -> None:
        self.process = self.context.Process(target=_serve, args=(self.sock, self.options))
        self.process.start()
        self.started = time.monotonic()


def run_workers(workers: int, host: str, port: int, **options) -> int:
    """Serve with `workers` processes until SIGINT/SIGTERM; returns the exit code.
    `options` go to uvicorn.Config (log_level, access_log, ...)."""
    first = listening_socket(host, port)
    port = first.getsockname()[1]  # port 0: the others join the port the first one got
    sockets = [first] + [listening_socket(host, port) for _ in range(workers - 1)]
    options = {**options, "host": host, "port": port}
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    context = multiprocessing.get_context("spawn")  # as uvicorn does: no state forked from this process
    slots = [_Slot(sock, options, context) for sock in sockets]
    log.info("serving on %s:%d with %d worker processes (one socket each)", host, port, workers)
    code = 0
    while not stopping.wait(0.5):
        for slot in slots:
            if slot.process.is_alive() or stopping.is_set():  # Ctrl+C reaches the workers too
                continue
            quick = time.monotonic() - slot.started < QUICK_DEATH_S
            slot.quick_deaths = slot.quick_deaths + 1 if quick else 0
            if slot.quick_deaths >= QUICK_DEATHS:
                log.error("worker %d keeps exiting at start (exit code %s); stopping", slot.process.pid,
                          slot.process.exitcode)
                stopping.set()
                code = 1
                break
            log.warning("worker %d exited (code %s); starting another", slot.process.pid, slot.process.exitcode)
            slot.start()
    for slot in slots:
        if slot.process.is_alive():
            slot.process.terminate()  # SIGTERM: uvicorn's graceful shutdown (collections closed and saved)
    deadline = time.monotonic() + STOP_GRACE_S
    for slot in slots:
        slot.process.join(max(0.0, deadline - time.monotonic()))
        if slot.process.is_alive():
            slot.process.kill()
            slot.process.join()
    for sock in sockets:
        sock.close()
    return code
