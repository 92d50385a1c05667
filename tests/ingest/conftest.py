"""Fixtures for the ingest tests: the real MiniLM tokenizer, real SciFact text, real pdfs."""

import json

import pytest

from corpora import DATA
from pdf_maker import write_pdf


@pytest.fixture(scope="session")
def tokenizer():
    """The default model's tokenizer, from its installed package (no model loaded)."""
    from embkit.ingest import encoder_tokenizer

    return encoder_tokenizer("minilm")


@pytest.fixture(scope="session")
def scifact() -> list[dict]:
    """The first 60 SciFact documents (title + abstract)."""
    path = DATA / "scifact" / "corpus.jsonl"
    with open(path, encoding="utf-8") as f:
        return [json.loads(next(f)) for _ in range(60)]


@pytest.fixture(scope="session")
def long_text(scifact) -> str:
    """About 20k characters of real prose: abstracts as paragraphs under their titles."""
    return "\n\n".join(f"{d['title']}\n\n{d['text']}" for d in scifact[:25])


@pytest.fixture
def make_pdf():
    return write_pdf
