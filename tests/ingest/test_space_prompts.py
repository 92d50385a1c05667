"""A space remembers the document prompt its vectors were embedded with (issue 24 review):
a model folder whose prompts change under a collection must not silently put new
documents into another space beside the old ones. The write is refused in one line
naming both prompts, nothing is written, and `reembed` with the same model brings the
whole space to the new prompt; a space written before prompts existed counts as
embedded without one."""

import json

import numpy as np
import pytest

import embkit
from embkit.ingest.space_prompts import recorded_prompt

from live_server import embkit_cli
from prompted_folder import DOCUMENT, QUERY, prompted_folder

DOCS = {"cat": "The cat sleeps on the warm windowsill.", "tea": "Green tea is steeped for two minutes."}
NEW = "a passage: "


def set_prompts(folder, prompts: dict) -> None:
    (folder / "config_sentence_transformers.json").write_text(json.dumps({"prompts": prompts}))


@pytest.fixture
def model(tmp_path):
    return prompted_folder(tmp_path / "model")


def stored(col) -> dict:
    table = col.table()
    return dict(zip(table.ids, table.vectors))


def test_a_changed_document_prompt_refuses_the_write_and_reembed_adopts_it(model, backend):
    location = backend("c")
    with embkit.create(location, model=str(model)) as col:
        col.add([DOCS["cat"]], ids=["cat"])
        assert recorded_prompt(col._store, col.space.name) == DOCUMENT
    set_prompts(model, {"query": QUERY, "passage": NEW})
    with embkit.open(location) as col:
        with pytest.raises(embkit.EmbkitError) as refused:
            col.add([DOCS["tea"]], ids=["tea"])
        assert str(refused.value) == (
            f"model: the document prompt of {str(model)!r} is now {NEW!r}, but the documents of space 'text' "
            f"were embedded with {DOCUMENT!r}; restore the model's prompts, or re-embed the space (embkit "
            "reembed) so old and new documents share one space")
        assert col.count() == 1  # nothing written
        col.reembed(str(model))  # the same model, now with its new prompt
    with embkit.open(location) as col:
        col.add([DOCS["tea"]], ids=["tea"])
        encoder = embkit.load_encoder(str(model))
        expected = encoder.encode([NEW + DOCS["cat"], NEW + DOCS["tea"]])
        vectors = stored(col)
        assert np.abs(np.stack([vectors["cat"], vectors["tea"]]) - expected).max() <= 1e-6


def test_the_cli_refuses_in_one_line_with_exit_1(model, tmp_path):
    with embkit.create(tmp_path / "c", model=str(model)) as col:
        col.add([DOCS["cat"]], ids=["cat"])
    set_prompts(model, {"query": QUERY})  # the document prompt removed
    (tmp_path / "tea.txt").write_text(DOCS["tea"])
    done = embkit_cli("add", str(tmp_path / "c"), str(tmp_path / "tea.txt"))
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: model: the document prompt of") and "is now ''" in done.stderr
    with embkit.open(tmp_path / "c") as col:
        assert col.count() == 1


def test_a_space_written_before_prompts_existed_counts_as_without_one(model, tmp_path):
    set_prompts(model, {})
    with embkit.create(tmp_path / "c", model=str(model)) as col:
        col.add([DOCS["cat"]], ids=["cat"])
        col._store.set_meta("document_prompt:text", None)  # as an older embkit left it
    set_prompts(model, {"query": QUERY, "passage": DOCUMENT})
    with embkit.open(tmp_path / "c") as col:
        with pytest.raises(embkit.EmbkitError, match="were embedded with ''"):
            col.add([DOCS["tea"]], ids=["tea"])
        assert recorded_prompt(col._store, "text") == ""


def test_an_encoder_loaded_before_its_prompts_changed_does_not_write_under_the_new_ones(model, tmp_path):
    with embkit.create(tmp_path / "c", model=str(model)) as col:  # its encoder loaded, with "passage: "
        col._store.set_meta("document_prompt:text", None)  # an empty space an older embkit made: no record
        set_prompts(model, {"query": QUERY, "passage": NEW})
        with pytest.raises(embkit.EmbkitError) as refused:
            col.add([DOCS["cat"]], ids=["cat"])
        assert str(refused.value) == (
            f"model: {str(model)!r} declares the document prompt {NEW!r}, but its loaded encoder applies "
            f"{DOCUMENT!r} (its files changed since it was loaded); open the collection again")
        assert col.count() == 0
    with embkit.open(tmp_path / "c") as col:  # opened again: the new prompt, recorded and applied
        col.add([DOCS["cat"]], ids=["cat"])
        expected = embkit.load_encoder(str(model)).encode([NEW + DOCS["cat"]])[0]
        assert np.abs(stored(col)["cat"] - expected).max() <= 1e-6


def test_a_space_filled_by_import_takes_texts_with_the_same_prompt(model, tmp_path):
    from embkit.ingest.bulk import import_shards
    from embkit.ingest.shards import ingest_local

    (tmp_path / "in.jsonl").write_text(json.dumps({"id": "cat", "text": DOCS["cat"]}) + "\n")
    ingest_local([str(tmp_path / "in.jsonl")], tmp_path / "shards", str(model))
    with embkit.create(tmp_path / "c", model=str(model)) as col:
        import_shards(col, tmp_path / "shards")  # vectors made elsewhere with "passage: ", no text embedded here
        col.add([DOCS["tea"]], ids=["tea"])
        assert recorded_prompt(col._store, "text") == DOCUMENT and col.count() == 2


def test_shards_made_with_another_document_prompt_are_refused_by_import(model, tmp_path):
    from embkit.ingest.bulk import import_shards
    from embkit.ingest.shards import ingest_local

    (tmp_path / "in.jsonl").write_text(json.dumps({"id": "cat", "text": DOCS["cat"]}) + "\n")
    ingest_local([str(tmp_path / "in.jsonl")], tmp_path / "shards", str(model))  # with "passage: "
    set_prompts(model, {"query": QUERY, "passage": NEW})
    with embkit.create(tmp_path / "c", model=str(model)) as col:  # its documents: "a passage: "
        with pytest.raises(embkit.EmbkitError) as refused:
            import_shards(col, tmp_path / "shards")
        assert str(refused.value) == (
            f"model: {tmp_path / 'shards'} holds vectors embedded with the document prompt {DOCUMENT!r}; the "
            f"collection's space 'text' holds documents embedded with {NEW!r}")
        assert col.count() == 0
