"""Shared fixtures for the index tests: real MiniLM embeddings of SciFact sentences."""

import json
import re

import numpy as np
import pytest

from corpora import DATA

SCIFACT = DATA / "scifact" / "corpus.jsonl"
N_CORPUS = 10_000
N_QUERIES = 200
MIN_CHARS = 20
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")


def scifact_sentences(n: int) -> list[str]:
    """The first `n` distinct sentences of at least MIN_CHARS characters from the
    SciFact abstracts, in file order. Duplicates are dropped, case-insensitively (the
    model is uncased: "No Caption available." and "No caption available." would be
    identical vectors), so the exact ground truth has no ties."""
    seen: set[str] = set()
    out: list[str] = []
    with SCIFACT.open(encoding="utf-8") as f:
        for line in f:
            for sentence in SENTENCE_END.split(json.loads(line)["text"]):
                sentence = " ".join(sentence.split())
                if len(sentence) >= MIN_CHARS and sentence.lower() not in seen:
                    seen.add(sentence.lower())
                    out.append(sentence)
                    if len(out) == n:
                        return out
    return out


@pytest.fixture(scope="session")
def scifact_vectors(minilm) -> tuple[np.ndarray, np.ndarray]:
    """(corpus, queries): 10,000 sentence vectors and 200 held-out query sentence
    vectors, unit length float32, embedded once per session."""
    sentences = scifact_sentences(N_CORPUS + N_QUERIES)
    assert len(sentences) == N_CORPUS + N_QUERIES, f"only {len(sentences)} sentences in {SCIFACT}"
    vectors = np.asarray(minilm.encode(sentences, batch_size=64), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors[:N_CORPUS]), np.ascontiguousarray(vectors[N_CORPUS:])
