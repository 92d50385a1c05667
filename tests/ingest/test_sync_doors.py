"""One sync through every door (issue 21, item 3): `embkit sync` (CLI, also --watch in a
real subprocess), `Collection.sync` and `POST /collections/{name}/sync` on a real server
store the same documents and report the same summary."""

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import embkit

from live_server import LiveServer
from test_sync import TEXTS, make_folder, stored


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "embkit.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=os.environ, timeout=120)


def edit(docs: Path) -> None:
    (docs / "tea.txt").write_text("Black tea wants water at a full boil.")
    (docs / "guide/cups.md").unlink()
    (docs / "notes/new.txt").write_text("Honey sweetens a cup of chamomile.")
    (docs / "notes/bad.txt").write_bytes(b"\xff\xfe not UTF-8")


def test_cli_python_and_http_store_the_same_documents(tmp_path, monkeypatch):
    root = tmp_path / "root"
    make_folder(root / "docs")
    for name in ("py", "cli", "http"):
        embkit.create(tmp_path / name, model="glove-50d").close()
    monkeypatch.chdir(root)
    py = embkit.open(tmp_path / "py")
    server = LiveServer([str(tmp_path / "http"), "--no-auth", "--source-root", str(root)], tmp_path / "server.log")
    try:
        with server.client() as http:
            summaries = []
            for step in (None, edit):
                if step:
                    step(root / "docs")
                done = cli("sync", str(tmp_path / "cli"), "docs", "--json", cwd=root)
                assert done.returncode == (3 if step else 0), done.stderr
                r = http.post("/collections/http/sync", json={"folder": "docs"})
                assert r.status_code == 200, r.text
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    by_python = py.sync("docs").as_dict()
                assert [str(w.message) for w in caught] == (["skipped 1 file: 1 unreadable file"] if step else [])
                summaries.append((json.loads(done.stdout), r.json(), by_python))
            outside = http.post("/collections/http/sync", json={"folder": str(tmp_path / "py")})
            assert outside.status_code == 403 and "not a folder under a --source-root" in outside.text
            dry = http.post("/collections/http/sync", json={"folder": "docs", "dry_run": True}).json()
            assert dry["dry_run"] and dry["counts"] == {"added": 0, "changed": 0, "unchanged": 4, "removed": 0,
                                                        "skipped": 1}
    finally:
        assert server.stop() == 0
    for by_cli, by_http, by_python in summaries:
        assert by_cli == by_http == by_python
    first, second = summaries[0][0], summaries[1][0]
    assert first["counts"] == {"added": 4, "changed": 0, "unchanged": 0, "removed": 0, "skipped": 0}
    assert (second["added"], second["changed"], second["removed"]) == \
        (["docs/notes/new.txt"], ["docs/tea.txt"], ["docs/guide/cups.md"])
    assert second["skipped"] == [{"file": "docs/notes/bad.txt", "kind": "unreadable",
                                  "reason": "not UTF-8 text (invalid start byte at byte 0)"}]
    py.close()
    found = []
    for name in ("py", "cli", "http"):
        with embkit.open(tmp_path / name) as col:
            found.append(stored(col))
    assert found[0] == found[1] == found[2]
    assert set(found[0]) == {"docs/tea.txt", "docs/guide/kettle.md", "docs/notes/garden.txt", "docs/notes/new.txt"}


def test_cli_prints_a_summary_and_fails_cleanly(tmp_path):
    make_folder(tmp_path / "docs")
    embkit.create(tmp_path / "c", model="glove-50d").close()
    done = cli("sync", "c", "docs", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "synced docs: 4 added, 0 changed, 0 unchanged, 0 removed; 4 chunks embedded, 0 from cache\n"
    (tmp_path / "docs/tea.txt").unlink()
    done = cli("sync", "c", "docs", "--dry-run", "-v", cwd=tmp_path)
    assert done.stdout == "would sync docs: 0 added, 0 changed, 3 unchanged, 1 removed\n  removed docs/tea.txt\n"
    done = cli("sync", "c", "nowhere", cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "error: folder: nowhere is not a folder\n")
    done = cli("sync", "c", "docs", "--watch", "--dry-run", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (1, "error: watch: --watch and --dry-run do not go together\n")
    with embkit.open(tmp_path / "c") as col:
        assert col.count() == 4  # the dry run removed nothing


def test_cli_prints_each_warning_once_and_a_dry_run_says_would(tmp_path):
    # the CLI printed Collection.sync's warnings and then its own copy of them: every line twice
    make_folder(tmp_path / "docs")
    embkit.create(tmp_path / "c", model="glove-50d").close()
    assert cli("sync", "c", "docs", cwd=tmp_path).returncode == 0
    (tmp_path / "docs/guide/cups.md").write_text("  \n")
    (tmp_path / "docs/notes/bad.txt").write_bytes(b"\xff\xfe not UTF-8")
    dry = cli("sync", "c", "docs", "--dry-run", cwd=tmp_path)
    assert (dry.returncode, dry.stderr) == (3, "warning: docs/guide/cups.md is empty: its 1 document(s) would be "
                                               "removed\nwarning: skipped 1 file: 1 unreadable file; --verbose "
                                               "lists them\n")
    done = cli("sync", "c", "docs", "-v", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (3, "warning: docs/guide/cups.md is empty: its 1 document(s) removed\n"
                                                 "warning: skipped docs/notes/bad.txt: not UTF-8 text (invalid start "
                                                 "byte at byte 0)\nwarning: skipped 1 file: 1 unreadable file\n")


def test_cli_still_prints_a_warning_sync_does_not_report_itself(tmp_path):
    # the CLI silenced every EmbkitWarning while Collection.sync ran, to print sync's own lines once:
    # an embedding cache that cannot be opened went unsaid (embkit add says it)
    make_folder(tmp_path / "docs")
    embkit.create(tmp_path / "c", model="glove-50d").close()
    (tmp_path / "c/cache/embeddings.sqlite").mkdir(parents=True)  # a folder where the cache's database goes
    done = cli("sync", "c", "docs", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (0, "warning: embedding cache c/cache/embeddings.sqlite not used "
                                                 "(OperationalError: unable to open database file); texts are "
                                                 "embedded without it\n")


def test_watch_picks_up_a_new_file_and_stops_on_ctrl_c(tmp_path):
    make_folder(tmp_path / "docs")
    embkit.create(tmp_path / "c", model="glove-50d").close()
    out = tmp_path / "watch.out"
    with open(out, "w") as stdout, open(tmp_path / "watch.err", "w") as stderr:
        watcher = subprocess.Popen([sys.executable, "-m", "embkit.cli", "sync", "c", "docs", "--watch", "--json",
                                    "--debounce", "200"], cwd=tmp_path, stdout=stdout, stderr=stderr,
                                   preexec_fn=_as_from_a_terminal)
    try:
        lines = _lines(out, 1, watcher)
        assert lines[0]["counts"]["added"] == len(TEXTS)
        time.sleep(1)  # the watcher is set up once the first sync printed; give it a moment to start watching
        (tmp_path / "docs/notes/new.txt").write_text("Honey sweetens a cup of chamomile.")
        lines = _lines(out, 2, watcher)
        assert lines[-1]["added"] == ["docs/notes/new.txt"] and lines[-1]["embedded"] == 1
    finally:
        watcher.send_signal(signal.SIGINT)
        code = watcher.wait(60)
    assert code == 0, (tmp_path / "watch.err").read_text()
    with embkit.open(tmp_path / "c") as col:
        assert col.get(["docs/notes/new.txt"])[0].text == "Honey sweetens a cup of chamomile."


def _as_from_a_terminal() -> None:
    """In the child before exec: Ctrl-C reaches it as it would from a shell. In the full
    suite CI's watcher ignored the SIGINT (twice; never alone): a blocked or ignored SIGINT
    is inherited from the test process, which earlier tests' libraries may leave so."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _lines(path: Path, n: int, process: subprocess.Popen, timeout: float = 90) -> list[dict]:
    """The first `n` JSON lines the watcher printed, waiting for them (generously)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if len(lines) >= n:
            return lines
        assert process.poll() is None, f"the watcher exited with {process.returncode}"
        time.sleep(0.2)
    raise AssertionError(f"no {n} sync lines in {timeout}s: {path.read_text()!r}")
