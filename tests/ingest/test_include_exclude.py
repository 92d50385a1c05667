"""Folders: --include/--exclude glob patterns on a nested tree, and files a text
collection cannot take (screenshots, .css/.svg, a corrupt pdf) skipped by kind while
the rest land, through the Python door (`Collection.add_files`)."""

from pathlib import Path

import pytest

import embkit
from embkit.errors import EmbkitError
from embkit.ingest import walk
from embkit.ingest.selection import check_patterns, chosen
from embkit.ingest.skips import IMAGE, UNKNOWN, UNREADABLE, Skipped, summary

from folder_maker import SUMMARY, make_tree


@pytest.fixture
def docs(tmp_path) -> Path:
    return make_tree(tmp_path / "docs")


def relative(root: Path, **patterns) -> list[str]:
    return [p.relative_to(root).as_posix() for p in walk(root, **patterns)]


def test_include_and_exclude_choose_files_of_a_nested_tree(docs):
    assert relative(docs, include=["*.md"]) == [
        "changelog/old.md", "changelog.md", "guide/deep/options.md", "guide/setup.md", "index.md"]
    # a name anywhere on the path: the changelog file and the changelog folder both go
    assert relative(docs, include=["*.md"], exclude=["changelog*"]) == [
        "guide/deep/options.md", "guide/setup.md", "index.md"]
    assert relative(docs, include=["guide/*.md"]) == ["guide/deep/options.md", "guide/setup.md"]  # `*` crosses /
    assert relative(docs, include=["guide/**/*.md"]) == ["guide/deep/options.md", "guide/setup.md"]
    assert relative(docs, include=["**/*.md"], exclude=["deep", "changelog*"]) == ["guide/setup.md", "index.md"]
    assert relative(docs, include=["*.txt", "*.pdf"]) == ["guide/broken.pdf", "guide/notes.txt"]
    assert relative(docs, exclude=["assets", "shots", "guide", "changelog*"]) == ["index.md"]
    assert relative(docs, include=["*.MD"]) == []  # case-sensitive
    assert chosen("a/b.md", (), ()) and not chosen("a/b.md", ("*.txt",), ())


def test_bad_patterns_name_the_field_and_the_limit():
    assert check_patterns(None, "include") == () and check_patterns("*.md", "include") == ("*.md",)
    for patterns, message in [([""], "include: a pattern must be a non-empty string, got ''"),
                              ([3], "include: a pattern must be a non-empty string, got 3"),
                              (["x" * 1025], "include: a pattern is at most 1024 characters, got 1025"),
                              (["*"] * 257, "include: at most 256 patterns, got 257")]:
        with pytest.raises(EmbkitError) as e:
            check_patterns(patterns, "include")
        assert str(e.value) == message


def test_summary_counts_kinds_in_a_fixed_order():
    skipped = [Skipped("b.pdf", "not a readable pdf"), Skipped("a.png", "an image", IMAGE),
               Skipped("x.css", "unknown", UNKNOWN), Skipped("README", "unknown", UNKNOWN),
               Skipped("y.CSS", "unknown", UNKNOWN)]
    assert summary(skipped) == ("skipped 5 files: 1 image (no image space; add one with --image-model), "
                                "3 unknown formats ((none), .css), 1 unreadable file; --verbose lists them")
    assert summary(skipped[:1], verbose=True) == "skipped 1 file: 1 unreadable file"
    assert summary([]) == "" and UNREADABLE == skipped[0].kind


def test_a_text_collection_takes_the_texts_of_a_folder_with_pictures(docs, tmp_path):
    with embkit.create(tmp_path / "c") as col:
        seen = []
        done = col.add_files([docs], exclude=["changelog*"], progress=seen.append)
        assert sum(seen) == 4  # texts embedded, counted as they go
        d = str(docs)
        assert sorted(done.ids) == sorted(f"{d}/{n}" for n in ("guide/deep/options.md", "guide/notes.txt",
                                                               "guide/setup.md", "index.md"))
        assert done.images is None and done.texts.files == 4 and col.count() == 4
        assert [(Path(s.path).relative_to(docs).as_posix(), s.kind) for s in done.skipped] == [
            ("shots/kettle.png", IMAGE), ("shots/leaves.jpg", IMAGE),
            ("assets/logo.svg", UNKNOWN), ("assets/site.css", UNKNOWN), ("guide/broken.pdf", UNREADABLE)]
        assert done.summary == SUMMARY + "; --verbose lists them"
        assert col.get([f"{d}/index.md"])[0].metadata == {"source": f"{d}/index.md", "parent": f"{d}/index.md"}


def test_named_files_are_taken_whatever_the_patterns_and_nothing_found_fails(docs, tmp_path):
    with embkit.create(tmp_path / "c") as col:
        done = col.add_files([str(docs / "changelog.md"), docs / "guide"], include=["*.txt"], exclude=["change*"])
        assert done.ids == [str(docs / "changelog.md"), str(docs / "guide/notes.txt")] and done.skipped == []
        with pytest.raises(EmbkitError) as e:  # a folder of screenshots alone: nothing to add, nothing written
            col.add_files([docs / "shots"])
        assert str(e.value) == (f"files: no documents found in {docs / 'shots'} (skipped 2 files: "
                                "2 images (no image space; add one with --image-model))")
        with pytest.raises(EmbkitError, match="^files: 1 image\\(s\\) given but the collection has no image space"):
            col.add_files([docs / "shots" / "kettle.png"])  # named explicitly: an error, not a skip
        with pytest.raises(EmbkitError, match="^exclude: a pattern must be a non-empty string"):
            col.add_files([docs], exclude=[" "])
        with pytest.raises(EmbkitError, match="^paths: give a list"):
            col.add_files(str(docs))
        assert col.count() == 2
