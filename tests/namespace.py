"""Shell scripts run in a private user + mount namespace (`unshare -rm`), for the tests
that need what only root may do to mounts: a read-only bind mount, a small tmpfs that
fills up. Tests run as root here, and root ignores file permissions, so a read-only
mount is the honest way to make a folder unwritable. The mounts vanish with the
namespace; nothing outside it sees them. A plain module, like live_server.py."""

import functools
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

# Six short documents on six topics: the collection the read-only and full-disk tests search.
SIX_DOCS = {"cat": "The cat sat on the mat and purred all afternoon.",
            "dog": "The dog barked at the mailman every single morning.",
            "stocks": "Stock markets fell sharply after the interest rate announcement.",
            "rain": "Heavy rain flooded the streets of the old town overnight.",
            "bread": "She baked fresh sourdough bread with a crisp crust.",
            "guitar": "He tuned the guitar strings before the evening concert."}

# Inside the namespace only: a tmpfs on /tmp, a folder in it bound read-only, a write refused.
_PROBE = ("mount -t tmpfs -o size=1m tmpfs /tmp && mkdir /tmp/ro && mount --bind /tmp/ro /tmp/ro"
          " && mount -o remount,bind,ro /tmp/ro && ! touch /tmp/ro/x 2>/dev/null")


@functools.cache
def unavailable() -> str | None:
    """Why no such namespace can be made here (for the skip), or None."""
    if shutil.which("unshare") is None:
        return "the `unshare` command (util-linux) is not installed"
    try:
        done = subprocess.run(["unshare", "-rm", "sh", "-c", _PROBE], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"`unshare -rm` could not run ({e})"
    if done.returncode != 0:
        return ("unprivileged user + mount namespaces (`unshare -rm` with a tmpfs and a read-only bind mount) "
                f"are not allowed here: {done.stderr.strip() or f'exit {done.returncode}'}")
    return None


def run(script: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `script` with `sh -eu` in a new namespace; `$EMBKIT` is the CLI, `$PYTHON` this Python."""
    env = {**os.environ, "PYTHON": sys.executable, "EMBKIT": f"{shlex.quote(sys.executable)} -m embkit.cli"}
    return subprocess.run(["unshare", "-rm", "sh", "-euc", script], capture_output=True, text=True, env=env,
                          timeout=timeout)


def wrap(setup: str) -> list[str]:
    """A command prefix that runs `setup` in a new namespace, then its arguments there
    (exec'd: the process keeps its pid, so the caller signals the program itself)."""
    return ["unshare", "-rm", "sh", "-euc", f'{setup}\nexec "$@"', "sh"]


def step(name: str, command: str, out: Path) -> str:
    """A script line running `command` (whatever it exits with) into OUT/name.{out,err,rc}."""
    base = shlex.quote(str(out / name))
    return f"{command} >{base}.out 2>{base}.err && echo 0 >{base}.rc || echo $? >{base}.rc"


def result(name: str, out: Path) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) that `step(name, ...)` recorded."""
    def read(ext: str) -> str:
        return (out / f"{name}.{ext}").read_text()

    return int(read("rc")), read("out"), read("err")


def files(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` by relative path, with its contents."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
