"""A real `embkit serve` in a subprocess on a free loopback port, for the server tests
(a plain module, like corpora.py: `conftest` names clash between folders)."""

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def embkit_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "embkit.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def create_key(keys_file: Path, scope: str, *collections: str) -> str:
    args = ["keys", "create", "--scope", scope, "--keys-file", str(keys_file)]
    for name in collections:
        args += ["--collection", name]
    done = embkit_cli(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


class LiveServer:
    def __init__(self, args: list[str], log: Path, env: dict | None = None, prefix: list[str] = ()):
        """`embkit serve ARGS`, run through `prefix` if given (a command that ends by running
        its arguments, such as tests/namespace.py's `wrap`)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "w") as out:
            self.process = subprocess.Popen(
                [*prefix, sys.executable, "-m", "embkit.cli", "serve", *args, "--host", "127.0.0.1", "--port",
                 str(self.port)],
                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        self._wait()

    def _wait(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not start in {timeout}s:\n{self.log.read_text()}")

    def client(self, key: str | None = None, timeout: float = 60) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def stop(self) -> int:
        """SIGINT (uvicorn's graceful shutdown: collections closed and saved), then kill."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode


@contextmanager
def served_client(args: list[str], log: Path):
    """A client of `embkit serve ARGS` (offline), the server stopped cleanly afterwards."""
    server = LiveServer(args, log, env={"HF_HUB_OFFLINE": "1"})
    try:
        with server.client() as client:
            yield client
    finally:
        assert server.stop() == 0
