"""An install numba cannot cache in (a read-only site-packages and no writable home, as
in a locked-down container): keyword search of many blocks still answers, exactly, by
numpy's MaxScore, and a big filter is scored directly. numba's cache=True raised
RuntimeError ("no locator available") when keyword_maxscore was imported, and the
search failed with it. Run as an unprivileged user (uid 65534) on a copy of the package
it cannot write; needs root and setpriv to switch user."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import embkit
from embkit.store import keyword_topk

SCRIPT = """
import sqlite3
from embkit.search import filter_codes_cache
from embkit.store import keyword_sqlite, keyword_topk
from embkit.store.keyword_cache import KeywordCache

keyword_topk.FEW = 1  # every query goes to the compiled search, if there is one
c = sqlite3.connect(":memory:", isolation_level=None)
c.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
cache = KeywordCache()
keyword_sqlite.create(c)
keyword_sqlite.update(c, {}, {i + 1: f"w{i % 7} w{i % 3} " + "w1 " * (i % 5) for i in range(3000)}, cache)
ids, scores = keyword_sqlite.top_k(c, ["w1", "w2", "w6"], 5, None, cache)
print(ids.tolist(), keyword_topk._compiled() is None, filter_codes_cache.load_kernel(wait=None))
"""


def in_process(monkeypatch) -> str:
    """The ids the same query gets here, where numba caches (the compiled search)."""
    monkeypatch.setattr(keyword_topk, "FEW", keyword_topk.FEW)  # the script lowers it: restored after
    namespace: dict = {}
    exec(SCRIPT.replace("print(", "result = ("), namespace)
    assert namespace["result"][1] is False
    return str(namespace["result"][0])


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv to run as another user")
def test_keyword_search_without_a_numba_cache(monkeypatch):
    folder = Path(tempfile.mkdtemp(prefix="embkit-ro-", dir="/tmp"))
    try:
        shutil.copytree(Path(embkit.__file__).parent, folder / "embkit",
                        ignore=shutil.ignore_patterns("__pycache__"))
        (folder / "check.py").write_text(SCRIPT)
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
        env.update(HOME="/nonexistent", PYTHONPATH=str(folder), XDG_CACHE_HOME="/nonexistent")
        run = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
                              str(folder / "check.py")], env=env, cwd="/", capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr[-2000:]
        ids, no_compiled, kernel = run.stdout.split("\n")[0].rsplit(" ", 2)
        assert (no_compiled, kernel) == ("True", "False")  # numpy's MaxScore; a filter scored directly
        assert ids == in_process(monkeypatch)
    finally:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o755)
        shutil.rmtree(folder)
