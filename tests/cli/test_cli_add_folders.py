"""`embkit add` on a folder a text collection cannot wholly take (screenshots, .css,
.svg, a corrupt pdf): the texts land, one summary warning, exit 3, `--verbose` lists
each file; --include/--exclude choose files; the CLI and `Collection.add_files` give
the same records and skips. Run as real processes (exit codes come from the entry point)."""

import json
import subprocess
import sys

import pytest

import embkit

from folder_maker import SUMMARY, make_tree


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "embkit.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def records(location) -> list[tuple]:
    """Every stored record (id, text, metadata, vector rounded), sorted by id."""
    with embkit.open(location) as col:
        docs = col.get(where={"source": {"$ne": ""}}, include_vectors=True)
        return sorted((d.id, d.text, d.metadata, tuple(round(float(x), 6) for x in d.vector)) for d in docs)


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    return make_tree(tmp_path_factory.mktemp("folders") / "docs")


def test_a_folder_with_pictures_lands_its_texts_with_one_warning(docs, tmp_path):
    assert run("init", tmp_path / "c").returncode == 0
    proc = run("add", tmp_path / "c", docs)
    assert proc.returncode == 3, proc.stderr  # before: exit 1, nothing written (no image space)
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {SUMMARY}; --verbose lists them"]
    assert "added 6 documents from 6 file(s)" in proc.stdout
    d = str(docs)
    assert [r[0] for r in records(tmp_path / "c")] == sorted(
        f"{d}/{n}" for n in ("changelog.md", "changelog/old.md", "guide/deep/options.md", "guide/notes.txt",
                             "guide/setup.md", "index.md"))


def test_verbose_lists_each_skipped_file_and_json_names_its_kind(docs, tmp_path):
    assert run("init", tmp_path / "c").returncode == 0
    proc = run("add", tmp_path / "c", docs, "--verbose", "--json", "--exclude", "changelog*")
    assert proc.returncode == 3, proc.stderr
    d = str(docs)
    listed = [line.split(": ")[1] for line in proc.stderr.splitlines() if line.startswith("warning: skipped /")]
    assert listed == [f"skipped {d}/{n}" for n in ("shots/kettle.png", "shots/leaves.jpg", "assets/logo.svg",
                                                   "assets/site.css", "guide/broken.pdf")]
    assert proc.stderr.splitlines()[-1] == f"warning: {SUMMARY}"
    out = json.loads(proc.stdout)
    assert (out["added"], out["documents"], out["files"], out["count"]) == (4, 4, 4, 4)
    assert [(s["file"], s["kind"]) for s in out["skipped"]] == [
        (f"{d}/shots/kettle.png", "image"), (f"{d}/shots/leaves.jpg", "image"),
        (f"{d}/assets/logo.svg", "unknown format"), (f"{d}/assets/site.css", "unknown format"),
        (f"{d}/guide/broken.pdf", "unreadable")]
    assert out["skipped"][0]["reason"] == "an image, and the collection has no image space"


def test_cli_and_python_give_the_same_records_and_skips(docs, tmp_path):
    patterns = ["--include", "*.md", "--include", "*.txt", "--exclude", "deep"]
    assert run("init", tmp_path / "cli").returncode == 0
    proc = run("add", tmp_path / "cli", docs, *patterns, "--json")
    assert proc.returncode == 0, proc.stderr  # the patterns leave out everything it cannot take
    with embkit.create(tmp_path / "py") as col:
        done = col.add_files([docs], include=["*.md", "*.txt"], exclude=["deep"])
    assert done.skipped == [] and done.summary == "" and json.loads(proc.stdout)["skipped"] == []
    cli = records(tmp_path / "cli")
    assert cli == records(tmp_path / "py") and sorted(done.ids) == [r[0] for r in cli] and len(cli) == 5
    with embkit.create(tmp_path / "py2") as col:  # the whole folder: the same skips as the CLI's
        done = col.add_files([docs])
    assert [(s.path, s.kind) for s in done.skipped] == cli_skips(docs, tmp_path / "cli2")
    assert done.summary == f"{SUMMARY}; --verbose lists them"


def cli_skips(docs, location) -> list[tuple]:
    assert run("init", location).returncode == 0
    proc = run("add", location, docs, "--json")
    assert proc.returncode == 3, proc.stderr
    return [(s["file"], s["kind"]) for s in json.loads(proc.stdout)["skipped"]]
