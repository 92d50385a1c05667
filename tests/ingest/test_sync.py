"""`Collection.sync`: a collection that mirrors a folder (issue 21, item 3), on real files,
a real model (GloVe 50d, fast; MiniLM where chunking matters) and both store backends."""

import hashlib
import json
import warnings
from pathlib import Path

import pytest

import embkit
from embkit.errors import EmbkitError

TEXTS = {"tea.txt": "Green tea is steeped for two minutes in water below boiling.",
         "guide/kettle.md": "# Kettle\n\nThe kettle whistles when the water boils.",
         "guide/cups.md": "Porcelain cups keep the tea warm for longer.",
         "notes/garden.txt": "The garden grows mint and chamomile for herbal tea."}


def make_folder(root: Path, texts: dict = TEXTS) -> Path:
    for name, text in texts.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def stored(col) -> dict[str, tuple[str, dict]]:
    """{id: (text, metadata)} of every record."""
    return {d.id: (d.text, d.metadata) for d in col.get(where={"source": {"$prefix": ""}})}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def docs(tmp_path, monkeypatch) -> Path:
    """The folder `docs` under the working folder (named `docs/...` as `embkit add` names it)."""
    monkeypatch.chdir(tmp_path)
    make_folder(tmp_path / "docs")
    return Path("docs")


def test_the_four_cases_added_unchanged_changed_removed(backend, docs):
    col = embkit.create(backend("c"), model="glove-50d")
    first = col.sync(docs)
    assert first.added == ["docs/guide/cups.md", "docs/guide/kettle.md", "docs/notes/garden.txt", "docs/tea.txt"]
    assert (first.changed, first.unchanged, first.removed, first.skipped) == ([], [], [], [])
    assert (first.documents, first.embedded, first.cached) == (4, 4, 0)
    records = stored(col)
    assert set(records) == set(first.added)
    assert records["docs/tea.txt"] == (TEXTS["tea.txt"], {"source": "docs/tea.txt", "sha256": sha(docs / "tea.txt"),
                                                          "parent": "docs/tea.txt"})

    generation = col.generation
    again = col.sync(docs)  # nothing changed: nothing read beyond hashing, nothing embedded or written
    assert again.unchanged == first.added and again.added == again.changed == again.removed == []
    assert (again.documents, again.deleted, again.embedded, again.cached) == (0, 0, 0, 0)
    assert col.generation == generation and stored(col) == records

    (docs / "tea.txt").write_text("Black tea wants water at a full boil.")
    (docs / "guide/cups.md").unlink()
    (docs / "notes/new.txt").write_text("Honey sweetens a cup of chamomile.")
    done = col.sync(docs)
    assert (done.added, done.changed, done.removed) == \
        (["docs/notes/new.txt"], ["docs/tea.txt"], ["docs/guide/cups.md"])
    assert done.unchanged == ["docs/guide/kettle.md", "docs/notes/garden.txt"]
    assert (done.documents, done.deleted, done.embedded) == (2, 1, 2)
    records = stored(col)
    assert set(records) == {"docs/tea.txt", "docs/guide/kettle.md", "docs/notes/garden.txt", "docs/notes/new.txt"}
    assert records["docs/tea.txt"][0] == "Black tea wants water at a full boil."
    assert records["docs/tea.txt"][1]["sha256"] == sha(docs / "tea.txt")
    assert col.search("black tea boiling water", k=1)[0].id == "docs/tea.txt"
    col.close()


def test_a_renamed_file_is_removed_and_added_and_embeds_nothing(tmp_path, docs):
    col = embkit.create(tmp_path / "c", model="glove-50d")
    col.sync(docs)
    (docs / "tea.txt").rename(docs / "green-tea.txt")
    done = col.sync(docs)
    assert (done.added, done.removed, done.changed) == (["docs/green-tea.txt"], ["docs/tea.txt"], [])
    assert (done.embedded, done.cached) == (0, 1)  # its text was embedded before: the cache has its vector
    assert stored(col)["docs/green-tea.txt"][0] == TEXTS["tea.txt"]
    assert "docs/tea.txt" not in stored(col)
    col.close()


def test_an_emptied_file_loses_its_document_with_a_warning(tmp_path, docs):
    col = embkit.create(tmp_path / "c", model="glove-50d")
    col.sync(docs)
    (docs / "guide/cups.md").write_text("  \n")
    with pytest.warns(embkit.EmbkitWarning, match=r"docs/guide/cups.md is empty: its 1 document\(s\) removed"):
        done = col.sync(docs)
    assert done.removed == ["docs/guide/cups.md"] and done.deleted == 1
    assert "docs/guide/cups.md" not in stored(col) and len(stored(col)) == 3
    col.close()


def test_an_empty_file_holding_no_documents_is_in_mirror_not_skipped(tmp_path, docs):
    # once an emptied file's documents were gone, every later sync skipped it as unreadable
    # (a warning and exit 3 on a folder that had not changed); a new empty file did the same
    col = embkit.create(tmp_path / "c", model="glove-50d")
    (docs / "blank.txt").write_text("\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning at all
        first = col.sync(docs)
        (docs / "guide/cups.md").write_text("  \n")
        with pytest.warns(embkit.EmbkitWarning, match="cups.md is empty"):
            col.sync(docs)
        again = col.sync(docs)
    assert (first.skipped, sorted(first.added)) == ([], sorted(f"docs/{n}" for n in TEXTS))
    assert "docs/blank.txt" in first.unchanged
    assert (again.skipped, again.added, again.changed, again.removed) == ([], [], [], [])
    assert sorted(again.unchanged) == sorted(f"docs/{n}" for n in [*TEXTS, "blank.txt"])
    assert set(stored(col)) == {f"docs/{n}" for n in TEXTS} - {"docs/guide/cups.md"}
    col.close()


def test_an_unreadable_file_is_skipped_and_keeps_its_document_and_nothing_else_is_lost(tmp_path, docs):
    col = embkit.create(tmp_path / "c", model="glove-50d")
    col.sync(docs)
    (docs / "notes/garden.txt").write_bytes(b"\xff\xfe not UTF-8 \x80")
    (docs / "tea.txt").write_text("Oolong is rolled into small pearls.")
    (docs / "notes/more.txt").write_text("Jasmine flowers scent green tea.")
    with pytest.warns(embkit.EmbkitWarning, match="^skipped 1 file: 1 unreadable file$"):
        done = col.sync(docs)
    assert [(s.path, s.kind) for s in done.skipped] == [("docs/notes/garden.txt", "unreadable")]
    assert "not UTF-8" in done.skipped[0].reason
    assert (done.added, done.changed, done.removed) == (["docs/notes/more.txt"], ["docs/tea.txt"], [])
    records = stored(col)
    assert records["docs/notes/garden.txt"][0] == TEXTS["notes/garden.txt"]  # the old version stays
    assert records["docs/tea.txt"][0] == "Oolong is rolled into small pearls."
    assert len(records) == 5
    col.close()


def test_dry_run_says_what_would_happen_and_writes_nothing(tmp_path, docs):
    col = embkit.create(tmp_path / "c", model="glove-50d")
    col.sync(docs)
    (docs / "tea.txt").write_text("Rooibos is not tea at all.")
    (docs / "guide/kettle.md").unlink()
    (docs / "new.txt").write_text("A teapot of cast iron.")
    before, generation = stored(col), col.generation
    entries = col.embedding_cache.stats()["entries"]
    done = col.sync(docs, dry_run=True)
    assert done.dry_run and (done.added, done.changed, done.removed) == \
        (["docs/new.txt"], ["docs/tea.txt"], ["docs/guide/kettle.md"])
    assert (done.documents, done.deleted, done.embedded) == (0, 0, 0)
    assert done.summary == "would sync docs: 1 added, 1 changed, 2 unchanged, 1 removed"
    assert stored(col) == before and col.generation == generation
    assert col.embedding_cache.stats()["entries"] == entries
    col.close()


def test_include_and_exclude_scope_both_the_files_and_the_documents(tmp_path, docs):
    col = embkit.create(tmp_path / "c", model="glove-50d")
    col.sync(docs)
    (docs / "tea.txt").unlink()
    done = col.sync(docs, include=["*.md"])  # tea.txt is out of scope: its document stays
    assert done.unchanged == ["docs/guide/cups.md", "docs/guide/kettle.md"] and done.removed == []
    assert "docs/tea.txt" in stored(col)
    done = col.sync(docs, exclude=["guide/*"])
    assert done.removed == ["docs/tea.txt"] and done.unchanged == ["docs/notes/garden.txt"]
    col.close()


def test_a_record_moved_between_jsonl_files_stays(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = [{"id": "a", "text": "Assam tea is malty."}, {"id": "b", "text": "Darjeeling tea is floral."}]
    Path("data").mkdir()
    Path("data/one.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    col = embkit.create(tmp_path / "c", model="glove-50d")
    assert col.sync("data").documents == 2
    Path("data/one.jsonl").write_text(json.dumps(rows[0]))
    Path("data/two.jsonl").write_text(json.dumps(rows[1]))
    done = col.sync("data")
    assert (done.added, done.changed, done.embedded) == (["data/two.jsonl"], ["data/one.jsonl"], 0)
    assert {i: (t, m["source"]) for i, (t, m) in stored(col).items()} == \
        {"a": ("Assam tea is malty.", "data/one.jsonl"), "b": ("Darjeeling tea is floral.", "data/two.jsonl")}
    Path("data/two.jsonl").unlink()
    assert col.sync("data").removed == ["data/two.jsonl"] and set(stored(col)) == {"a"}
    col.close()


def test_an_edit_to_a_long_document_embeds_only_its_changed_chunks(tmp_path, monkeypatch, scifact):
    monkeypatch.chdir(tmp_path)
    Path("docs").mkdir()
    paragraphs = [f"{d['title']}\n\n{d['text']}" for d in scifact[:6]]
    Path("docs/long.md").write_text("\n\n".join(paragraphs))
    col = embkit.create(tmp_path / "c", model="minilm")
    first = col.sync("docs")
    chunks = first.embedded
    assert chunks > 3 and col.count() == chunks
    Path("docs/long.md").write_text("\n\n".join([*paragraphs[:-1], "A new closing paragraph on tea."]))
    done = col.sync("docs")
    assert done.changed == ["docs/long.md"]
    assert 0 < done.embedded < chunks / 2 and done.cached + done.embedded == col.count()
    col.close()


def test_bad_input_is_one_clear_error_and_changes_nothing(tmp_path, docs):
    col = embkit.create(tmp_path / "c", model="glove-50d")
    with pytest.raises(EmbkitError, match="folder: nowhere is not a folder"):
        col.sync("nowhere")
    with pytest.raises(EmbkitError, match="include: a pattern must be a non-empty string"):
        col.sync(docs, include=[""])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert col.count() == 0
    col.close()


def test_records_sync_did_not_write_are_never_removed(tmp_path, monkeypatch):
    """Review: `sync .` of an empty folder deleted records added through the API whose
    `source` only looked like a path. Sync owns what it wrote (records with `sha256`);
    a file added by `add` before is taken over, not duplicated."""
    monkeypatch.chdir(tmp_path)
    Path("empty").mkdir()
    col = embkit.create(tmp_path / "c", model="glove-50d")
    col.add(["crm note about tea", "another note"], ids=["n1", "n2"],
            metadatas=[{"source": "crm"}, {"source": "web/page1"}])
    assert col.sync(".", dry_run=True).removed == [] and col.sync("empty").removed == []
    done = col.sync(".")
    assert done.removed == [] and {d.id for d in col.get(ids=["n1", "n2"])} == {"n1", "n2"}
    make_folder(tmp_path / "docs")
    col.add_files(["docs"])
    before = col.count()
    done = col.sync("docs")
    assert sorted(done.added) == sorted(f"docs/{n}" for n in TEXTS) and col.count() == before
    (tmp_path / "docs" / "tea.txt").unlink()
    assert col.sync("docs").removed == ["docs/tea.txt"]
    col.close()
