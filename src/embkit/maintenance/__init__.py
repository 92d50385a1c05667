"""Keeping a collection sound: snapshots and their restore (snapshot.py); `check`
verifies the store and the derived files against it, and with `repair` rebuilds what
is derived (check.py); `reembed` moves a space to another model without downtime
(reembed.py); `compact` gives back the space deleted documents left (compact.py), and
sizes.py says where a collection's bytes go."""

from .check import check, check_unopenable
from .reembed import reembed
from .report import Check, Report
from .snapshot import restore, snapshot

__all__ = ["snapshot", "restore", "check", "check_unopenable", "Check", "Report", "reembed"]
