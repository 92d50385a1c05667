"""encoders/prompts.py: sentence-transformers' prompt names and default read by role
as its encode_query / encode_document read them (and their vectors matched, on a
model folder the test builds), bad configs refused naming the field, the chunker
leaving the document prompt room in the window, and the embedding cache keyed on the
prompt."""

import json

import numpy as np
import pytest

import embkit
from embkit.encoders.catalog import CatalogEntry
from embkit.encoders.prompts import (
    declared_prompts,
    encode_as,
    entry_prompts,
    folder_prompts,
    role_prompts,
    unprompted,
    with_prompt,
)
from embkit.encoders.tokenizer_files import encoder_tokenizer
from embkit.errors import EmbkitError
from embkit.ingest.documents import split_documents
from embkit.ingest.embedding_cache import EmbeddingCache, cached_encode
from embkit.ingest.model_fingerprint import model_fingerprint
from embkit.ingest.records import SourceDocument
from embkit.store import Space

from prompted_folder import DOCUMENT, QUERY, prompted_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return prompted_folder(tmp_path_factory.mktemp("prompts") / "model")


@pytest.mark.parametrize("prompts, default, expected", [
    ({"query": "q: ", "passage": "p: "}, None, {"query": "q: ", "document": "p: "}),
    ({"query": "q: ", "document": "d: ", "passage": "p: "}, None, {"query": "q: ", "document": "d: "}),
    ({"corpus": "c: "}, None, {"document": "c: "}),
    ({"query": "q: ", "task": "Represent this: "}, "task", {"query": "q: ", "document": "Represent this: "}),
    ({"query": "", "task": "t: "}, "task", {"document": "t: "}),  # an empty named prompt blocks the default
    ({"query": None, "passage": "p: "}, None, {"document": "p: "}),
    ({"classification": "Classify: "}, None, {}),  # a task's prompt is no role's
    ({}, None, {}),
])
def test_roles_take_their_names_then_the_default(prompts, default, expected):
    assert role_prompts(prompts, default) == expected


@pytest.mark.parametrize("prompts, default, words", [
    ({"query": 3}, None, "prompts: prompt 'query' must be a text, got 3"),
    (["query: "], None, "prompts: must be an object of prompt name -> text"),
    ({"query": "q: "}, "passage", "prompts: default_prompt_name 'passage' is not one of the prompts (query)"),
])
def test_a_bad_prompts_config_is_refused_naming_the_field(prompts, default, words):
    with pytest.raises(EmbkitError) as caught:
        role_prompts(prompts, default)
    assert str(caught.value).startswith(words)


def test_a_folder_with_a_bad_config_fails_to_load_with_one_line(tmp_path):
    folder = prompted_folder(tmp_path / "model", {"query": ["not", "a", "text"]})
    with pytest.raises(EmbkitError, match=r"config_sentence_transformers.json: prompts: prompt 'query' must be"):
        embkit.load_encoder(str(folder))
    (folder / "config_sentence_transformers.json").write_text("{not json")
    with pytest.raises(EmbkitError, match="is not readable JSON"):
        folder_prompts(folder)


def test_a_catalog_entry_carries_its_prompts_by_role():
    entry = CatalogEntry("x", 4, "onnx", "MIT", "p", "m", "pip install p", "test",
                         prompts=(("query", "query: "), ("passage", "passage: ")))
    assert hash(entry) and entry_prompts(entry) == {"query": "query: ", "document": "passage: "}
    assert declared_prompts("minilm") == {}  # MiniLM has none: it embeds texts as given


def test_vectors_equal_sentence_transformers_encode_query_and_encode_document(folder, tmp_path):
    """A folder naming "query" and "document" (sentence-transformers 6 gives every model
    an empty "document" prompt, so its encode_document no longer falls back to "passage";
    embkit reads "passage" as the document prompt, as E5's folders mean it)."""
    from sentence_transformers import SentenceTransformer

    texts = ["where does the cat sleep", "Green tea is steeped for two minutes.", "Heavy rain in the old town."]
    named = prompted_folder(tmp_path / "named", {"query": QUERY, "document": DOCUMENT})
    reference = SentenceTransformer(str(named), device="cpu")
    encoder = embkit.load_encoder(str(named))
    for role, theirs in (("query", reference.encode_query), ("document", reference.encode_document)):
        ours, expected = encode_as(encoder, texts, role), theirs(texts, normalize_embeddings=True)
        assert np.min(np.sum(ours * expected, axis=1)) >= 0.9999, role
    ours = encode_as(embkit.load_encoder(str(folder)), texts, "document")  # the same weights, "passage" named
    assert np.min(np.sum(ours * reference.encode_document(texts, normalize_embeddings=True), axis=1)) >= 0.9999
    assert np.abs(encode_as(encoder, texts, "query") - encode_as(encoder, texts, "document")).max() > 1e-3


def test_the_chunker_leaves_the_document_prompt_room_in_the_window(folder):
    text = " ".join(f"cat{i % 7} dog" for i in range(600))  # no sentence ends: chunks fill the budget
    doc = [SourceDocument("d", text, {}, where="texts[0]")]
    tokenizer = encoder_tokenizer("minilm")
    room = len(tokenizer.encode(DOCUMENT, add_special_tokens=False).ids)
    plain = split_documents("minilm", doc, True, 256, 0, strict=True)
    prompted = split_documents(str(folder), doc, True, 256, 0, strict=True)
    assert max(len(tokenizer.encode(t).ids) for t in plain.texts) == 256
    assert max(len(tokenizer.encode(DOCUMENT + t).ids) for t in prompted.texts) == 256
    assert room == 2 and max(len(tokenizer.encode(t).ids) for t in prompted.texts) == 256 - room
    with unprompted():
        assert split_documents(str(folder), doc, True, 256, 0, strict=True).texts == plain.texts


def test_the_embedding_cache_key_holds_the_document_prompt(folder, tmp_path):
    space = Space("text", str(folder), 384, "cosine", True)
    with unprompted():
        raw = model_fingerprint(space)
    assert model_fingerprint(space) not in (None, raw)
    encoder, cache = embkit.load_encoder(str(folder)), EmbeddingCache(tmp_path)

    def documents(texts):  # as the write path embeds documents, through one cache file
        return cached_encode(cache, model_fingerprint(space), texts, lambda m, bar: encode_as(encoder, m, "document"))

    prompted = documents(["a text about tea"])
    with unprompted():  # the same text without its prompt is another vector: not served from the cache
        raw = documents(["a text about tea"])
    np.testing.assert_allclose(prompted[0], encoder.encode([DOCUMENT + "a text about tea"])[0], atol=1e-6)
    np.testing.assert_allclose(raw[0], encoder.encode(["a text about tea"])[0], atol=1e-6)
    with embkit.create(tmp_path / "c", model=str(folder)) as col:  # nor does one space take both
        col.add(["a text about tea"], ids=["a"])
        with unprompted(), pytest.raises(EmbkitError, match="is now '', but the documents of space 'text' were"):
            col.add(["a text about tea"], ids=["b"])


def test_unprompted_embeds_every_role_as_given(folder):
    encoder = embkit.load_encoder(str(folder))
    assert with_prompt(encoder, ["x"], "query") == [QUERY + "x"]
    with unprompted():
        assert with_prompt(encoder, ["x"], "query") == ["x"] and declared_prompts(str(folder)) == {}
    assert json.loads((folder / "config_sentence_transformers.json").read_text())["prompts"]["query"] == QUERY
