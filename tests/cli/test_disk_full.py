"""A full disk never fails a read (issue 19, failure 5): a search answers, and a cache
that cannot be saved is a one-line warning, its old files left as they were. The disk
is a 4 MB tmpfs in a private mount namespace (tests/namespace.py), filled up after the
collection is on it; where no namespace can be made the test skips, saying why."""

import json
import shlex

import pytest

import embkit

import namespace

DOCS = namespace.SIX_DOCS

# Opened while there is room; then the disk fills up; then reads, and close().
PY_READER = """
import errno, json, os, sys, warnings
import embkit

def fill(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    os.write(fd, b"\\0" * size)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(fd)

warnings.simplefilter("always")
out = {}
with warnings.catch_warnings(record=True) as caught:
    col = embkit.open(sys.argv[1])
    fill(sys.argv[2])
    out["like"] = [h.id for h in col.search(like="cat", k=2)]
    out["keyword"] = [h.id for h in col.search("markets", mode="keyword")]
    col.close()
    out["closed"] = True
out["warnings"] = [str(w.message) for w in caught]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def collection(tmp_path_factory, minilm):
    """A collection whose saved HNSW index is one write behind the store, so a search
    catches it up and closing wants to save it (the keyword index is in the store itself)."""
    reason = namespace.unavailable()
    if reason:
        pytest.skip(f"no mount namespace: no small tmpfs can be made ({reason})")
    folder = tmp_path_factory.mktemp("full") / "col"
    ids = list(DOCS)
    vectors = minilm.encode([DOCS[i] for i in ids])
    with embkit.create(folder) as col:
        col.add([DOCS[i] for i in ids[:-1]], ids=ids[:-1], vectors=vectors[:-1])
        col.build_index("hnsw")
        assert [h.id for h in col.search("markets", mode="keyword")] == ["stocks"]
    with embkit.open(folder) as col:
        col.add([DOCS[ids[-1]]], ids=ids[-1:], vectors=vectors[-1:])
    return folder


def test_search_on_a_full_disk_answers_and_warns(collection, tmp_path):
    reader = tmp_path / "reader.py"
    reader.write_text(PY_READER)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    col, out = mnt / "col", tmp_path
    m, c, o = shlex.quote(str(mnt)), shlex.quote(str(col)), shlex.quote(str(out))
    script = "\n".join([
        f"mount -t tmpfs -o size=4m tmpfs {m}",
        f"cp -a {shlex.quote(str(collection))} {c}",
        f"(cd {c} && find . -type f | sort | xargs sha256sum) >{o}/before.sums",
        namespace.step("python", f"$PYTHON {shlex.quote(str(reader))} {c} {m}/fill", out),
        f"cat /dev/zero >>{m}/fill2 2>/dev/null || true",  # what closing freed (the -wal, -shm) is filled again
        f"df -P {m} | tail -1 >{o}/df",
        namespace.step("cli", f'$EMBKIT search {c} "stock market crash" --mode hybrid -k 2 --json', out),
        namespace.step("sums", f"cd {c} && sha256sum -c {o}/before.sums", out),
        f"(cd {c} && find . -type f | sort) >{o}/after.files",
    ])
    done = namespace.run(script)
    assert done.returncode == 0, done.stderr

    rc, stdout, stderr = namespace.result("python", out)
    assert rc == 0, stderr
    found = json.loads(stdout)
    assert "cat" not in found["like"] and len(found["like"]) == 2
    assert found["keyword"] == ["stocks"]
    assert found["closed"] is True  # close() did not raise
    full = "[Errno 28] No space left on device"
    assert f"vector index of space 'text' of {col} not saved ({full}" in "\n".join(found["warnings"])
    assert not any(w.startswith("keyword index") for w in found["warnings"])  # nothing of it to save

    assert (out / "df").read_text().split()[3] == "0"  # the disk was full when the CLI searched
    rc, stdout, stderr = namespace.result("cli", out)
    assert rc == 0, stderr
    assert [h["id"] for h in json.loads(stdout)["hits"]][0] == "stocks"
    lines = stderr.strip().splitlines()
    assert lines and all(line.startswith("warning: ") for line in lines), stderr
    assert any(full in line for line in lines)

    # The saved caches are the old consistent state: every file as it was, nothing half
    # written beside them (only what SQLite made trying to open for writing).
    rc, stdout, stderr = namespace.result("sums", out)
    assert rc == 0, stdout + stderr
    before = {line.split()[1] for line in (out / "before.sums").read_text().splitlines()}
    after = set((out / "after.files").read_text().split())
    assert after - before <= {"./embkit.db-wal", "./embkit.db-shm"}
