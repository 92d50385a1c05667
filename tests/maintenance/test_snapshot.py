"""Snapshots and restores (issue 19, item 3): a snapshot taken while another process keeps
adding batches restores to a collection holding exactly the batches committed at one
moment, whose search, integrity check and `check` pass; caches of another generation are left
out and rebuilt; restore refuses a non-empty folder without --force and changes nothing;
a PostgreSQL collection is snapshot and restored by the pg_dump commands embkit prints."""

import importlib
import json
import shlex
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import embkit
from embkit import EmbkitError
from embkit.maintenance import restore, snapshot
from embkit.store import SCHEMA_VERSION

sys.path.insert(0, str(Path(__file__).parent))
from snapshot_writer import BATCH, DIM, doc_id, text, vector  # noqa: E402

WRITER = Path(__file__).parent / "snapshot_writer.py"


def cli(*args, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "embkit.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120)
    assert (proc.returncode == 0) == ok, proc.stderr
    return proc


def stored_count(folder: Path) -> int:
    conn = sqlite3.connect(f"file:{folder / 'embkit.db'}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute("SELECT count(*) FROM docs").fetchone()[0]
    finally:
        conn.close()


def wait_for_count(folder: Path, at_least: int, writer: subprocess.Popen) -> int:
    """Poll until the writer has committed `at_least` documents (it must still be running)."""
    while (n := stored_count(folder)) < at_least:
        assert writer.poll() is None, writer.stderr.read()
        time.sleep(0.05)
    return n


def batches(n: int) -> set[str]:
    return {doc_id(b, i) for b in range(n) for i in range(BATCH)}


def assert_committed_state(folder: Path, generation: int) -> int:
    """The restored collection holds whole batches 0..n-1 (n = its generation: one per
    add), searches exactly, and passes SQLite's integrity check. Returns n."""
    conn = sqlite3.connect(folder / "embkit.db")
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()
    with embkit.open(folder) as col:
        report = col.check()  # first, before a search catches any cache up: the copied ones are checked
        assert report.ok, report.failed
        n = col.count() // BATCH
        assert n == generation and col.count() == n * BATCH
        assert {d.id for d in col.get()} == batches(n)
        for b in (0, n - 1):
            assert col.search(vector=vector(b, 3), k=1)[0].id == doc_id(b, 3)
            assert col.count(where={"batch": b}) == BATCH
            hits = col.search(f"batch{b:04d}", mode="keyword", k=2 * BATCH)
            assert {h.id for h in hits} == {doc_id(b, i) for i in range(BATCH)}
        assert col.info()["generation"] == generation
    return n


def test_snapshots_during_a_write_loop_restore_committed_states(tmp_path):
    src = tmp_path / "c"
    with embkit.create(src, model=None, dim=DIM) as col:
        col.build_index("sq8")  # an index that is saved to files, so snapshots meet its saves
    stop = tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, str(WRITER), str(src), str(stop)], stderr=subprocess.PIPE, text=True)
    try:
        wait_for_count(src, 2 * BATCH, writer)
        with embkit.open(src) as col:  # Python
            first = col.snapshot(tmp_path / "s0")
        wait_for_count(src, (first["generation"] + 2) * BATCH, writer)
        out = cli("snapshot", src, tmp_path / "s1", "--json")  # the CLI
        second = json.loads(out.stdout)
        wait_for_count(src, (second["generation"] + 2) * BATCH, writer)
        third = snapshot(src, tmp_path / "s2")  # the module
        wait_for_count(src, (third["generation"] + 1) * BATCH, writer)  # writes went on after it
    finally:
        stop.touch()
        try:
            writer.wait(timeout=120)
        finally:
            if writer.poll() is None:
                writer.kill()
    assert writer.returncode == 0, writer.stderr.read()
    assert 2 <= first["generation"] < second["generation"] < third["generation"]

    embkit.restore(tmp_path / "s0", tmp_path / "r0").close()
    cli("restore", tmp_path / "s1", tmp_path / "r1")
    (tmp_path / "r2").mkdir()  # an empty folder is restored into
    restore(tmp_path / "s2", tmp_path / "r2")
    for n, manifest in enumerate((first, second, third)):
        assert manifest["source"] == str(src.resolve()) and manifest["schema_version"] == SCHEMA_VERSION
        assert "embkit.db" in manifest["copied"]
        assert assert_committed_state(tmp_path / f"r{n}", manifest["generation"]) == manifest["generation"]
        assert not (tmp_path / f"r{n}" / "snapshot.json").exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temp folder left


def _quiet_collection(path: Path, n_batches: int):
    col = embkit.create(path, model=None, dim=DIM)
    col.build_index("sq8")
    for b in range(n_batches):
        col.add([text(b, i) for i in range(BATCH)], ids=[doc_id(b, i) for i in range(BATCH)],
                vectors=np.stack([vector(b, i) for i in range(BATCH)]), metadatas=[{"batch": b}] * BATCH)
    col.search(vector=vector(0, 0), k=1)
    col.search("batch0000", mode="keyword", k=1)
    return col


def test_caches_of_the_snapshot_generation_are_copied_others_rebuilt(tmp_path):
    src = tmp_path / "c"
    _quiet_collection(src, 2).close()  # index/text saved at generation 2 (the keyword index is in the store)
    manifest = snapshot(src, tmp_path / "s")
    assert manifest["generation"] == 2
    assert manifest["copied"] == ["embkit.db", "index/text"] and manifest["rebuilt_on_open"] == {}
    saved = json.loads((src / "index" / "text" / "manifest.json").read_text())
    assert json.loads((tmp_path / "s" / "index" / "text" / "manifest.json").read_text()) == saved
    embkit.restore(tmp_path / "s", tmp_path / "r").close()
    report = json.loads(cli("check", tmp_path / "r", "--json").stdout)  # the copied caches match the store
    assert report["ok"] and not report["repaired"]
    with embkit.open(tmp_path / "r") as col:
        assert col.info()["index"]["persisted"] and col.info()["index"]["generation"] == 2
        assert_state_of(col, 2)

    with embkit.open(src) as col:  # one more batch, caches not saved: they stay at generation 2
        b = 2
        col.add([text(b, i) for i in range(BATCH)], ids=[doc_id(b, i) for i in range(BATCH)],
                vectors=np.stack([vector(b, i) for i in range(BATCH)]), metadatas=[{"batch": b}] * BATCH)
        col.close(save=False)
    later = snapshot(src, tmp_path / "s3")
    assert later["generation"] == 3 and later["copied"] == ["embkit.db"]
    assert set(later["rebuilt_on_open"]) == {"index/text"}
    assert "of generation 2, not the snapshot's 3" in later["rebuilt_on_open"]["index/text"]
    assert not (tmp_path / "s3" / "index").exists() and not (tmp_path / "s3" / "keyword").exists()
    with embkit.restore(tmp_path / "s3", tmp_path / "r3") as col:
        assert_state_of(col, 3)


def test_thumbnails_of_documents_written_during_the_snapshot_are_left_out(tmp_path, monkeypatch):
    """A thumbnail is written after its batch commits: one replaced or added between the
    database copy and the thumbnail copy belongs to a later state, and is left out."""
    from embkit.ingest.image_files import thumbnail_path

    module = importlib.import_module("embkit.maintenance.snapshot")  # the package's `snapshot` is the function

    src = tmp_path / "c"
    _quiet_collection(src, 1).close()
    thumbs = src / "thumbnails"
    for i in range(3):
        thumbnail_path(thumbs, doc_id(0, i)).parent.mkdir(exist_ok=True)
        thumbnail_path(thumbs, doc_id(0, i)).write_bytes(b"old %d" % i)
    copy_tree = module._copy_tree

    def copy_after_a_write(folder, dest):  # another writer commits between the two copies
        if folder.name == "thumbnails":
            with embkit.open(src) as col:
                col.upsert([text(0, 1)], ids=[doc_id(0, 1)], vectors=[vector(9, 9)])
                col.add([text(1, 0)], ids=[doc_id(1, 0)], vectors=[vector(1, 0)])
                col.close(save=False)
            thumbnail_path(thumbs, doc_id(0, 1)).write_bytes(b"new 1")
            thumbnail_path(thumbs, doc_id(1, 0)).write_bytes(b"new")
        return copy_tree(folder, dest)

    monkeypatch.setattr(module, "_copy_tree", copy_after_a_write)
    manifest = snapshot(src, tmp_path / "s")
    assert manifest["generation"] == 1 and "thumbnails" in manifest["copied"]
    assert manifest["rebuilt_on_open"]["thumbnails"].startswith("2 thumbnails of documents changed after")
    kept = {p.name: p.read_bytes() for p in (tmp_path / "s" / "thumbnails").iterdir()}
    assert kept == {thumbnail_path(thumbs, doc_id(0, i)).name: b"old %d" % i for i in (0, 2)}


def test_a_collection_on_a_read_only_mount_is_snapshot(tmp_path):
    """An archived collection (closed, on a read-only mount) is snapshot through the CLI
    without writing beside it, caches included, and restores whole elsewhere."""
    import namespace

    reason = namespace.unavailable()
    if reason:
        pytest.skip(f"no mount namespace: no read-only mount can be made ({reason})")
    src = tmp_path / "archive" / "c"
    _quiet_collection(src, 2).close()
    before = namespace.files(src)
    d = shlex.quote(str(src))
    script = "\n".join([f"mount --bind {d} {d} && mount -o remount,bind,ro {d}",
                        namespace.step("snap", f"$EMBKIT snapshot {d} {shlex.quote(str(tmp_path / 's'))} --json",
                                       tmp_path)])
    done = namespace.run(script)
    assert done.returncode == 0, done.stderr
    rc, out, err = namespace.result("snap", tmp_path)
    assert rc == 0, err
    manifest = json.loads(out)
    assert manifest["generation"] == 2 and manifest["copied"] == ["embkit.db", "index/text"]
    assert namespace.files(src) == before
    with embkit.restore(tmp_path / "s", tmp_path / "r") as col:
        assert_state_of(col, 2)


def assert_state_of(col, n: int) -> None:
    assert {d.id for d in col.get()} == batches(n)
    for b in range(n):
        assert col.search(vector=vector(b, 5), k=1)[0].id == doc_id(b, 5)
        assert {h.id for h in col.search(f"batch{b:04d}", mode="keyword", k=2 * BATCH)} == \
            {doc_id(b, i) for i in range(BATCH)}


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_restore_refuses_a_folder_that_is_not_empty_unless_forced(tmp_path):
    src = tmp_path / "c"
    _quiet_collection(src, 1).close()
    snapshot(src, tmp_path / "s")
    target = tmp_path / "t"
    _quiet_collection(target, 2).close()
    (target / "notes.txt").write_text("mine")
    before = _listing(target)

    with pytest.raises(EmbkitError, match=r"^path: .*/t is not empty; refusing to overwrite it \(give --force\)$"):
        embkit.restore(tmp_path / "s", target)
    proc = cli("restore", tmp_path / "s", target, ok=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == f"error: path: {target} is not empty; refusing to overwrite it (give --force)\n"
    assert _listing(target) == before  # nothing changed

    out = cli("restore", tmp_path / "s", target, "--force").stdout
    assert out == f"restored {BATCH} documents (generation 1) into {target}\n"
    assert not (target / "notes.txt").exists()
    with embkit.open(target) as col:
        assert_state_of(col, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "s", "t"]  # the old contents are gone


def test_bad_snapshot_and_restore_input_is_refused_with_one_line(tmp_path):
    src = tmp_path / "c"
    _quiet_collection(src, 1).close()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    proc = cli("snapshot", src, tmp_path / "full", ok=False)
    assert proc.stderr == \
        f"error: out: {tmp_path / 'full'} is not empty; refusing to overwrite it (give another folder)\n"
    proc = cli("snapshot", tmp_path / "full", tmp_path / "s", ok=False)
    assert proc.stderr == f"error: path: {tmp_path / 'full'} is not an embkit collection (no embkit.db)\n"
    proc = cli("restore", src, tmp_path / "r", ok=False)  # a collection is not a snapshot
    assert proc.stderr == f"error: snapshot: {src} is not an embkit snapshot (no snapshot.json and embkit.db)\n"

    snapshot(src, tmp_path / "s")
    db = tmp_path / "s" / "embkit.db"
    db.write_bytes(db.read_bytes()[:4096] + b"\0" * (db.stat().st_size - 4096))  # pages zeroed
    proc = cli("restore", tmp_path / "s", tmp_path / "r", ok=False)
    assert proc.stderr.startswith(f"error: snapshot: {db} ") and proc.stderr.count("\n") == 1
    assert not (tmp_path / "r").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "full", "s"]


# ---- PostgreSQL: pg_dump of the collection's schema, as embkit says -----------------------

def _pg_bin(name: str) -> str:
    from pg_server import bin_dir

    return str(bin_dir() / name)


def _run(command: str) -> None:
    args = shlex.split(command)
    done = subprocess.run([_pg_bin(args[0]), *args[1:]], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_postgres_collection_dumped_while_written_restores_into_another_database(pg_server, tmp_path):
    url = f"{pg_server.url_for('embkit_tests')}?collection=snap-{id(tmp_path) % 10**6}"
    embkit.create(url, model=None, dim=DIM).close()
    proc = cli("snapshot", url, tmp_path / "s", ok=False)
    assert proc.stderr.count("\n") == 1 and not (tmp_path / "s").exists()
    message = proc.stderr.removeprefix("error: path: a PostgreSQL collection is snapshot with pg_dump: ")
    dump, rest = message.split("; restore with ")
    with embkit.open(url) as col, pytest.raises(EmbkitError) as refused:  # Python says the same
        col.snapshot(tmp_path / "s")
    assert f"error: {refused.value}\n" == proc.stderr and not (tmp_path / "s").exists()
    restore_commands = rest.split(" (DB_URL:")[0].split(" && ")

    stop, errors = threading.Event(), []

    def write() -> None:  # another connection keeps adding batches while pg_dump runs
        try:
            with embkit.open(url) as col:
                for b in range(1000):
                    if stop.is_set():
                        return
                    col.add([text(b, i) for i in range(BATCH)], ids=[doc_id(b, i) for i in range(BATCH)],
                            vectors=np.stack([vector(b, i) for i in range(BATCH)]), metadatas=[{"batch": b}] * BATCH)
        except BaseException as e:
            errors.append(e)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        with embkit.open(url) as col:
            while col.count() < 2 * BATCH:
                assert writer.is_alive(), errors
                time.sleep(0.05)
        _run(dump.replace("OUT.dump", str(tmp_path / "c.dump")))
    finally:
        stop.set()
        writer.join()
    assert not errors

    target = pg_server.create_database(f"restored_{id(tmp_path) % 10**6}")
    for command in restore_commands:
        _run(command.replace("DB_URL", target).replace("OUT.dump", str(tmp_path / "c.dump")))
    name = url.split("collection=")[1]
    with embkit.open(f"{target}?collection={name}") as col:
        n = col.count() // BATCH
        assert n >= 2 and col.count() == n * BATCH  # whole batches: one consistent moment
        assert col.info()["generation"] == n
        assert_state_of(col, n)
