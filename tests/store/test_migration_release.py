"""A collection written by release ea9797a (schema 2; tests/store/fixtures/, made by
make_release_fixture.py with that release's code) opens with today's code: migrated to
the current schema and page size with every record, vector and search answer as that
release left them; and a SIGKILL at any point of the migration leaves the old schema or
the new one, each holding every document."""

import hashlib
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import embkit
from embkit.store import DB_NAME, SCHEMA_VERSION, sqlite_pages

FIXTURES = Path(__file__).parent / "fixtures"
RELEASE = FIXTURES / "release_ea9797a"
EXPECTED = json.loads((FIXTURES / "release_ea9797a.json").read_text())
WORKER = Path(__file__).parent / "migration_worker.py"
TIE = 1e-4  # scores this close are a tie: any order of those ids is right


@pytest.fixture
def copy(tmp_path) -> Path:
    path = tmp_path / "col"
    shutil.copytree(RELEASE, path)
    return path


def stored(path: Path) -> tuple[int, list[dict], dict]:
    """(schema version, records in row order, SHA-256 of each vector per space), read raw
    (the kept fixture itself as immutable: reading it writes nothing beside it)."""
    db = sqlite3.connect(f"file:{path / DB_NAME}?immutable=1", uri=True) if path == RELEASE else \
        sqlite3.connect(path / DB_NAME)
    try:
        version = int(db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
        records = [{"id": r[0], "text": r[1], "metadata": json.loads(r[2])}
                   for r in db.execute("SELECT id, text, metadata FROM docs ORDER BY rowid")]
        vectors: dict = {}
        for space, doc_id, blob in db.execute("SELECT v.space, d.id, v.vector FROM vectors v "
                                              "JOIN docs d ON d.rowid = v.doc"):
            vectors.setdefault(space, {})[doc_id] = hashlib.sha256(blob).hexdigest()
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return version, records, vectors
    finally:
        db.close()


def tie_groups(hits: list) -> list[set[str]]:
    """Ids grouped by equal score (within TIE), best first; the last group is dropped when
    the cut at k may have split it."""
    groups, last = [], None
    for doc_id, score in hits:
        if last is None or abs(score - last) > TIE:
            groups.append(set())
        groups[-1].add(doc_id)
        last = score
    return groups


def same_answer(found: list, expected: list) -> bool:
    got, want = tie_groups(found), tie_groups(expected)
    if len(want) > 1 and len(expected) == len(found):
        got, want = got[:-1], want[:-1]  # a tie at the cut: which of them made the top k is either
    return got == want


def test_fixture_is_the_old_release():
    """The kept files are what the old release wrote (schema 2, 4 KiB pages), so the test below migrates."""
    version, records, vectors = stored(RELEASE)
    assert version == EXPECTED["schema_version"] == 2
    assert records == EXPECTED["records"] and vectors == EXPECTED["vectors"]
    db = sqlite3.connect(f"file:{RELEASE / DB_NAME}?immutable=1", uri=True)
    assert sqlite_pages.page_size(db) == 4096
    db.close()


def test_release_collection_opens_migrated_with_everything_it_held(copy):
    with embkit.open(copy) as col:
        info = col.info()
        assert info["schema_version"] == SCHEMA_VERSION == 3
        assert set(info["spaces"]) == {"text", "glove"}
        searches = EXPECTED["searches"]
        for mode in ("dense", "keyword", "hybrid"):
            for query, hits in searches[mode].items():
                found = [(h.id, float(h.score)) for h in col.search(query, k=5, mode=mode)]
                assert same_answer(found, hits), (mode, query, found, hits)
        for query, hits in searches["glove_dense"].items():
            found = [(h.id, float(h.score)) for h in col.search(query, k=3, space="glove")]
            assert same_answer(found, hits), ("glove", query, found, hits)
    version, records, vectors = stored(copy)
    assert version == SCHEMA_VERSION
    assert records == EXPECTED["records"]
    assert vectors == EXPECTED["vectors"]
    db = sqlite3.connect(copy / DB_NAME)
    assert sqlite_pages.page_size(db) == sqlite_pages.page_size_for([384, 50]) == 8192
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


WATCH_ATTEMPTS = 4  # kills timed by a thread watching the files (-1, -2) may miss a journal on a busy machine


def run_worker(path: Path, steps: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(WORKER), str(path), str(steps)], capture_output=True, text=True,
                          timeout=120)


def test_sigkill_during_migration_leaves_old_or_new_schema_with_every_document(tmp_path):
    """Kills spread over the whole open, most of it the migration's transaction, and over
    the page-size conversion (SQLite steps); then at the moment VACUUM's rollback journal
    appears (-1) and at its first write over the old file (-2), which no step counter sees."""
    probe = tmp_path / "probe"
    shutil.copytree(RELEASE, probe)
    total, start, end = map(int, run_worker(probe, 0).stdout.split()[1:])
    assert 0 < start < end <= total
    points = [*np.linspace(100, start - 100, 5).astype(int), *np.linspace(start, end - 100, 4).astype(int), -1, -2]
    seen = set()
    for n, steps in enumerate(points):
        path = tmp_path / f"kill{n}"
        for _ in range(WATCH_ATTEMPTS if steps < 0 else 1):
            shutil.rmtree(path, ignore_errors=True)
            shutil.copytree(RELEASE, path)
            result = run_worker(path, int(steps))
            if result.returncode == -signal.SIGKILL:
                break  # else the watching thread missed the journal's millisecond (a busy machine): again
        assert result.returncode == -signal.SIGKILL, (steps, result.stderr[-2000:])
        if steps == -1:
            assert (path / (DB_NAME + "-journal")).exists()  # killed with VACUUM under way
        version, records, vectors = stored(path)
        db = sqlite3.connect(path / DB_NAME)
        seen.add((version, sqlite_pages.page_size(db)))
        db.close()
        assert version in (2, SCHEMA_VERSION), steps
        assert records == EXPECTED["records"] and vectors == EXPECTED["vectors"], steps
        with embkit.open(path) as col:  # and today's code finishes the job
            assert col.count() == len(EXPECTED["records"])
        version, records, vectors = stored(path)
        assert version == SCHEMA_VERSION and records == EXPECTED["records"] and vectors == EXPECTED["vectors"]
        db = sqlite3.connect(path / DB_NAME)
        assert sqlite_pages.page_size(db) == 8192, steps
        db.close()
    assert (2, 4096) in seen and (SCHEMA_VERSION, 4096) in seen  # killed inside the migration, and after it


def test_open_while_another_connection_holds_the_file_migrates_and_converts_later(copy):
    """Changing the page size needs the only connection: the open still succeeds (migrated,
    4 KiB pages left as they were) and a later open converts."""
    other = sqlite3.connect(copy / DB_NAME)
    other.execute("SELECT count(*) FROM docs").fetchone()
    try:
        with embkit.open(copy) as col:
            assert col.info()["schema_version"] == SCHEMA_VERSION and col.count() == len(EXPECTED["records"])
        assert sqlite_pages.page_size(other) == 4096
    finally:
        other.close()
    with embkit.open(copy):
        pass
    version, records, vectors = stored(copy)
    assert (version, records, vectors) == (SCHEMA_VERSION, EXPECTED["records"], EXPECTED["vectors"])
    db = sqlite3.connect(copy / DB_NAME)
    assert sqlite_pages.page_size(db) == 8192
    db.close()
