"""Folders: walked recursively and sorted, hidden files left out, unreadable files
skipped with a reason while bad records still reject everything."""

import pytest

from embkit.errors import EmbkitError
from embkit.ingest import UnreadableFile, read_paths, walk


@pytest.fixture
def folder(tmp_path, make_pdf):
    root = tmp_path / "docs"
    (root / "b" / "deep").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / ".git" / "config.txt").write_text("hidden folder")
    (root / ".notes.txt").write_text("hidden file")
    (root / "z.txt").write_text("Last by name.")
    (root / "a.md").write_text("# First\n\nBy name.")
    (root / "b" / "page.html").write_text("<title>T</title><p>Hello from html.</p>")
    (root / "b" / "deep" / "rows.jsonl").write_text('{"id": "r1", "text": "row one"}\n'
                                                    '{"id": "r2", "text": "row two", "source": "mine"}\n')
    make_pdf(root / "b" / "good.pdf", ["A page of real text."])
    (root / "b" / "broken.pdf").write_bytes((root / "b" / "good.pdf").read_bytes()[:200])
    (root / "b" / "photo.png").write_bytes(b"\x89PNG\r\n")
    (root / "b" / "latin.txt").write_bytes("café".encode("latin-1"))
    return root


def test_walk_is_sorted_recursive_and_skips_hidden(folder):
    found = [p.relative_to(folder).as_posix() for p in walk(folder)]
    assert found == ["a.md", "b/broken.pdf", "b/deep/rows.jsonl", "b/good.pdf", "b/latin.txt", "b/page.html",
                     "b/photo.png", "z.txt"]


def test_unreadable_files_are_skipped_with_reasons(folder):
    batches, skipped = read_paths([str(folder)])
    assert [b.source for b in batches] == [str(folder / p) for p in
                                           ("a.md", "b/deep/rows.jsonl", "b/good.pdf", "b/page.html", "z.txt")]
    reasons = {s.path: s.reason for s in skipped}
    assert list(reasons) == [str(folder / p) for p in ("b/broken.pdf", "b/latin.txt", "b/photo.png")]
    assert reasons[str(folder / "b/broken.pdf")].startswith("not a readable pdf")
    assert reasons[str(folder / "b/latin.txt")].startswith("not UTF-8 text")
    assert reasons[str(folder / "b/photo.png")].startswith("unknown format '.png'")
    rows = batches[1]
    # records found in a folder say where they came from, unless they already do
    assert rows.metadatas == [{"source": str(folder / "b/deep/rows.jsonl")}, {"source": "mine"}]
    assert batches[2].metadatas == [{"source": str(folder / "b/good.pdf"), "page_count": 1}]
    assert batches[3].metadatas == [{"source": str(folder / "b/page.html"), "title": "T"}]


def test_source_is_the_path_as_given(folder, monkeypatch):
    monkeypatch.chdir(folder.parent)
    batches, _ = read_paths(["docs/b/deep", "docs/z.txt"])
    assert [b.source for b in batches] == ["docs/b/deep/rows.jsonl", "docs/z.txt"]
    assert batches[1].ids == ["docs/z.txt"] and batches[0].metadatas[0] == {"source": "docs/b/deep/rows.jsonl"}


def test_explicit_files_and_bad_records_are_errors(folder):
    with pytest.raises(UnreadableFile, match=r"broken\.pdf: not a readable pdf"):
        read_paths([str(folder / "b" / "broken.pdf")])  # named on the command line: not skipped
    (folder / "b" / "deep" / "rows.jsonl").write_text('{"id": "r1", "text": "ok"}\n{"id": "r2"}\n')
    with pytest.raises(EmbkitError, match=r"rows\.jsonl:2: missing field 'text'"):
        read_paths([str(folder)])  # a bad record is not an unreadable file: the whole add fails


def test_empty_folder(tmp_path):
    assert read_paths([str(tmp_path)]) == ([], [])
