"""Connecting to Ray, and starting a private one on loopback.

Ray binds to the machine's own network address by default, and even when told
127.0.0.1 it rewrites a loopback address to that network address when connecting (it
assumes a multi-host cluster). For a private Ray (`--address local`, the tests, the
benchmark) and for a cluster whose address is a loopback one, embkit keeps everything
on 127.0.0.1: the node address is 127.0.0.1, and Ray's address resolution is told not
to leave the machine (`RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`, inherited by the Ray
processes started from here). Usage statistics are off; the dashboard is not started;
the object store is capped (Ray otherwise reserves about 30% of RAM per node)."""

import ipaddress
import logging
import os
from contextlib import contextmanager
from pathlib import Path

from ..errors import EmbkitError

LOOPBACK = "127.0.0.1"
OBJECT_STORE_BYTES = 256 * 1024 * 1024  # results are small: a shard's path and counts
_LOCAL_RESOLUTION = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def import_ray(loopback: bool = False):
    """The `ray` module (a clear error when the extra is missing), with usage stats
    off and, with `loopback`, address resolution kept on 127.0.0.1."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if loopback:
        os.environ[_LOCAL_RESOLUTION] = "0"
    try:
        import ray
    except ImportError:
        raise EmbkitError("ray: not installed; pip install 'embkit[ray]'") from None
    if loopback:
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False  # in case ray was imported before the variable was set
    return ray


def is_loopback(address: str | None) -> bool:
    """Whether a Ray address (`host:port`, `ray://host:port`) names this machine's loopback."""
    if not address:
        return False
    host = address.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _auto_address(temp_dir: str | None) -> str | None:
    """What `address="auto"` would find: RAY_ADDRESS, else the latest cluster started here."""
    if os.environ.get("RAY_ADDRESS"):
        return os.environ["RAY_ADDRESS"]
    base = temp_dir or os.path.join(os.environ.get("RAY_TMPDIR") or os.environ.get("TMPDIR") or "/tmp", "ray")
    try:
        return Path(base, "ray_current_cluster").read_text().strip() or None
    except OSError:
        return None


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast (ConnectionError) when nothing accepts connections at `address`."""
    import socket

    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected host:port, got {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        raise ConnectionError(f"nothing answers at {hostport}: {e.strerror or e}") from None


@contextmanager
def connect(address: str = "auto", *, num_cpus: float | None = None, temp_dir: str | None = None,
            object_store_memory: int = OBJECT_STORE_BYTES):
    """Ray, connected, for the duration of the block. `address` is `auto` (a running
    cluster: RAY_ADDRESS or the latest started on this machine), `host:port`,
    `ray://host:port` (Ray Client), or `local` (a private single-node Ray on
    127.0.0.1, stopped afterwards). If this process is connected already, that
    connection is used and left open."""
    target = _auto_address(temp_dir) if address in (None, "auto") else address
    local = address == "local"
    ray = import_ray(loopback=local or is_loopback(target))
    if ray.is_initialized():
        yield ray
        return
    options = {"logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if local:
            ray.init(address="local", num_cpus=num_cpus, _node_ip_address=LOOPBACK, include_dashboard=False,
                     object_store_memory=object_store_memory, _temp_dir=temp_dir, **options)
        else:
            if address in (None, "auto") and target is None:
                raise ConnectionError("no running cluster found")
            _check_reachable(target)  # ray.init retries an address nobody listens on for minutes
            ray.init(address=target, **options)
    except (ConnectionError, TimeoutError, ValueError, RuntimeError) as e:
        raise EmbkitError(f"address: cannot connect to Ray at {address!r} ({e}); start a cluster "
                          f"(`ray start --head --node-ip-address {LOOPBACK}`), or use --address local") from None
    try:
        yield ray
    finally:
        ray.shutdown()


class LoopbackCluster:
    """A Ray cluster of `nodes` nodes on this machine, all on 127.0.0.1 (the tests'
    two-node cluster; `ray.cluster_utils.Cluster`). `address` is what `ray.init`
    and `--address` take. Stop it with `shutdown()` (or use it as a context manager)."""

    def __init__(self, nodes: int = 2, cpus_per_node: float = 1, object_store_memory: int = 150 * 1024 * 1024,
                 temp_dir: str | Path | None = None, connect: bool = True):
        ray = import_ray(loopback=True)
        from ray.cluster_utils import Cluster

        self._ray, self.connected = ray, False
        self._tmpdir_before = os.environ.get("RAY_TMPDIR")
        self.temp_dir = None
        if temp_dir:
            # Ray's sessions and the cluster's address file (which `--address auto` reads)
            # both go under temp_dir/ray
            self.temp_dir = str(Path(temp_dir) / "ray")
            Path(self.temp_dir).mkdir(parents=True, exist_ok=True)
            os.environ["RAY_TMPDIR"] = str(temp_dir)
        node = {"num_cpus": cpus_per_node, "object_store_memory": object_store_memory, "node_ip_address": LOOPBACK}
        self.cluster = Cluster(initialize_head=True, head_node_args={
            **node, "include_dashboard": False, **({"temp_dir": self.temp_dir} if self.temp_dir else {})})
        try:
            for _ in range(nodes - 1):
                self.cluster.add_node(**node)
            if connect:
                ray.init(address=self.address, logging_level=logging.WARNING)
                self.connected = True
        except BaseException:
            self.cluster.shutdown()
            raise

    @property
    def address(self) -> str:
        return self.cluster.address

    def worker_nodes(self) -> list:
        return list(self.cluster.worker_nodes)

    def shutdown(self) -> None:
        """Disconnect and stop every node's processes."""
        if self.connected:
            self._ray.shutdown()
            self.connected = False
        self.cluster.shutdown()
        if self.temp_dir:
            if self._tmpdir_before is None:
                os.environ.pop("RAY_TMPDIR", None)
            else:
                os.environ["RAY_TMPDIR"] = self._tmpdir_before

    def __enter__(self) -> "LoopbackCluster":
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
