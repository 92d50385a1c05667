"""Keeping a collection sound: snapshots and their restore (snapshot.py)."""

from .snapshot import restore, snapshot

__all__ = ["snapshot", "restore"]
