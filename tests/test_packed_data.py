"""The test data travels with the project: tests/data/ holds every set the tests read,
gzipped, small enough for a plain repo, with its licence, and unpacks to the checked
originals; the tests read that copy, never ../shared."""

import gzip
import hashlib
import shutil

import pytest

from corpora import DATA, REPO
from packed_data import PACKED, unpack

SETS = {"scifact": "LICENSE.md", "cranfield": "LICENSE.md", "stsb": "LICENSE.txt", "banking77": "LICENSE"}


def test_the_tests_read_the_repo_copy():
    assert DATA.parent == REPO / "tests" / "data" and DATA.name.startswith(".unpacked-")
    assert sorted(p.name for p in DATA.iterdir()) == sorted(SETS)


def test_every_packed_file_is_listed_small_and_licensed():
    listed = [line.split("  ", 1)[1] for line in (PACKED / "SHA256SUMS").read_text().splitlines()]
    packed = sorted(str(p.relative_to(PACKED))[:-3] for p in PACKED.glob("[!.]*/**/*.gz"))
    assert packed == sorted(listed) and len(listed) == 13
    assert all((PACKED / f"{rel}.gz").stat().st_size < 5 * 1024 * 1024 for rel in listed)
    assert all((PACKED / name / licence).stat().st_size > 0 for name, licence in SETS.items())


def test_unpacked_files_equal_the_published_sets():
    # sha256 of BEIR's SciFact corpus.jsonl (shared/data/README.md) and the official counts
    assert hashlib.sha256((DATA / "scifact" / "corpus.jsonl").read_bytes()).hexdigest().startswith("dec31c81")
    counts = {rel: sum(1 for _ in (DATA / rel).open(encoding="utf-8")) for rel in (
        "scifact/corpus.jsonl", "scifact/queries.jsonl", "cranfield/corpus.jsonl", "stsb/sts-train.csv",
        "stsb/sts-dev.csv", "stsb/sts-test.csv")}
    assert counts == {"scifact/corpus.jsonl": 5183, "scifact/queries.jsonl": 1109, "cranfield/corpus.jsonl": 1400,
                      "stsb/sts-train.csv": 5749, "stsb/sts-dev.csv": 1500, "stsb/sts-test.csv": 1379}


def _copy(tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(PACKED, copy, ignore=shutil.ignore_patterns(".unpack*"))
    return copy


def test_unpack_is_whole_and_done_once(tmp_path):
    copy = _copy(tmp_path)
    first = unpack(copy)
    assert first.is_dir()
    assert sorted(p.name for p in copy.iterdir() if p.name.startswith(".unpack")) == [first.name]
    (first / "marker").write_text("kept")  # a second session finds the folder and uses it as it is
    assert unpack(copy) == first and (first / "marker").read_text() == "kept"
    assert (first / "stsb" / "sts-test.csv").stat().st_mode & 0o222 == 0  # read-only, like ../shared/data


def test_a_damaged_packed_file_is_refused(tmp_path):
    copy = _copy(tmp_path)
    (copy / "stsb" / "sts-dev.csv.gz").write_bytes(gzip.compress(b"not the STS-B dev split\n"))
    with pytest.raises(RuntimeError, match="sts-dev.csv.gz does not match SHA256SUMS"):
        unpack(copy)
    assert not [p for p in copy.iterdir() if p.name.startswith(".unpack")]  # nothing half-written is left
