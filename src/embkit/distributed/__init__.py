"""Distributed work on Ray: bulk ingest (`ingest_distributed`), the assignment step of
k-means over a big collection (`assign_nearest`), and helpers to connect to Ray or
start a private one on 127.0.0.1. Ray is an optional extra (`pip install
'embkit[ray]'`); nothing here imports it until it is used."""

from .ray_connect import LoopbackCluster, connect, import_ray, is_loopback
from .ray_ingest import EmbedShards, ingest_distributed, run_on_ray

__all__ = ["LoopbackCluster", "connect", "import_ray", "is_loopback", "EmbedShards", "ingest_distributed",
           "run_on_ray", "assign_nearest"]


def __getattr__(name):
    if name == "assign_nearest":
        from .ray_kmeans import assign_nearest

        return assign_nearest
    raise AttributeError(name)
