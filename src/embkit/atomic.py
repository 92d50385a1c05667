"""Crash-safe file writes: temp file in the same folder, fsync, rename, fsync the folder.

Temp files are named for the process writing them (`NAME.PID-RANDOM.tmp`), so a
cleanup run by another process can tell a live writer's file (leave it) from one a
crash left behind (`stale_temp`)."""

import os
import re
import secrets
import time
from pathlib import Path
from typing import Callable

TEMP_SUFFIX = ".tmp"
STALE_AFTER = 3600.0  # seconds: a temp file untouched this long is left over, whoever "owns" it (pids are reused)
_OWNED = re.compile(r"\.(\d+)-[0-9a-f]+\.tmp$")


def temp_name(name: str, pid: int | None = None) -> str:
    """A fresh temp file name for `name`, owned by process `pid` (this one by default)."""
    return f"{name}.{os.getpid() if pid is None else pid}-{secrets.token_hex(4)}{TEMP_SUFFIX}"


def temp_owner(name: str) -> int | None:
    """The pid a temp file name records, or None (not a temp name, or an ownerless one)."""
    match = _OWNED.search(name)
    return int(match.group(1)) if match else None


def stale_temp(path: Path) -> bool:
    """True for a temp file nobody is writing: its owner is gone, it records no owner
    (an older embkit's), or it has not been touched for STALE_AFTER seconds."""
    if not path.name.endswith(TEMP_SUFFIX):
        return False
    owner = temp_owner(path.name)
    if owner is None or not _alive(owner):
        return True
    try:
        return time.time() - path.stat().st_mtime > STALE_AFTER
    except FileNotFoundError:  # its writer renamed or removed it meanwhile
        return False


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        pass
    return True


def atomic_write(target: Path, write: Callable[[Path], object]) -> None:
    """Call `write(tmp_path)`, then make the result `target` in one step: a crash at
    any point leaves either the old file or the complete new one. The temp file is
    created owner-only (0600), as mkstemp makes it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / temp_name(target.name)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
        fsync_path(target.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def fsync_path(path: Path) -> None:
    """Flush a file's or a folder's entry to disk (a folder: the renames made in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
