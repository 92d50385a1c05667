"""The compiled keyword top-k (keyword_maxscore.py, its bounds at each document's length)
after random adds, replacements (a word's tf raised or lowered, a document made longer,
shorter or empty) and deletions, with documents past LENGTHS words and one past bm25.MAX_COUNT,
with and without `allow`: the row ids and float32 scores of a float64 brute force over
the texts themselves (not the stored blocks), summed in query order as BM25 is."""

import math
import sqlite3
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from embkit.store import bm25, keyword_sqlite, keyword_topk
from embkit.store.keyword_cache import KeywordCache

VOCAB = [f"w{i}" for i in range(120)]
SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(autouse=True)
def compiled(monkeypatch):
    """Every query of more than a few blocks goes to the compiled search."""
    monkeypatch.setattr(keyword_topk, "FEW", 4)
    assert keyword_topk._compiled() is not None


def text(rng: np.random.Generator) -> str:
    """1 to 40 words, Zipf-like; one in 25 of 1,100 to 3,000; one in 8 with a word 2-60 times."""
    p = 1 / np.arange(1, len(VOCAB) + 1) ** 1.1
    size = int(rng.integers(1_100, 3_000)) if rng.random() < 0.04 else int(rng.integers(1, 41))
    words = list(rng.choice(VOCAB, size=size, p=p / p.sum()))
    if rng.random() < 0.125:
        words += [str(rng.choice(VOCAB[:30]))] * int(rng.integers(2, 61))
    return " ".join(words)


def brute(texts: dict[int, str], terms: list[str], k: int, allow=None) -> tuple[list[int], bytes]:
    """BM25 of every document from its words, float64, terms summed in query order."""
    tokens = {r: Counter(t.split()) for r, t in texts.items() if t.split()}
    dl = {r: min(t.total(), bm25.MAX_COUNT) for r, t in tokens.items()}
    n_docs, avgdl = len(tokens), sum(dl.values()) / max(len(tokens), 1)
    repeats = dict.fromkeys(terms, 0)
    for term in terms:
        repeats[term] += 1
    totals: dict[int, float] = {}
    for term, times in repeats.items():
        holders = {r: min(t[term], bm25.MAX_COUNT) for r, t in tokens.items() if term in t}
        weight = math.log(1.0 + (n_docs - len(holders) + 0.5) / (len(holders) + 0.5)) * times
        for r, tf in holders.items():
            totals[r] = totals.get(r, 0.0) + weight * tf / (tf + bm25.K1 * (1.0 - bm25.B + bm25.B * dl[r] / avgdl))
    kept = [(np.float32(s), r) for r, s in totals.items() if s > 0 and (allow is None or r in allow)]
    best = sorted(kept, key=lambda x: (-x[0], x[1]))[:k]
    return [r for _, r in best], np.array([s for s, _ in best], np.float32).tobytes()


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 4))
def test_after_random_edits(seed, steps):
    rng = np.random.default_rng(seed)
    c = sqlite3.connect(":memory:", isolation_level=None)
    c.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    cache = KeywordCache()
    keyword_sqlite.create(c)
    texts = {r: text(rng) for r in range(1, 1_201)}
    keyword_sqlite.update(c, {}, texts, cache)
    for step in range(steps):
        rowids = sorted(texts)
        old, new = {}, {}
        for r in rng.choice(rowids, size=60, replace=False).tolist():  # deleted or replaced
            old[r] = texts[r]
            if rng.random() < 0.5:
                new[r] = text(rng) if rng.random() < 0.8 else ""  # replaced, or emptied: no words left
        for r in range(max(rowids) + 1, max(rowids) + 1 + int(rng.integers(0, 80))):
            new[r] = text(rng)
        if step == 0 and rng.random() < 0.3:  # one document past MAX_COUNT words: its dl is capped
            new[max(rowids) + 500] = " ".join(["w1"] * 40 + ["w90"] * 20 + list(rng.choice(VOCAB, 70_000)))
        keyword_sqlite.update(c, old, new, cache)
        for r in old:
            texts.pop(r)
        texts.update(new)
    for _ in range(6):
        terms = list(rng.choice(VOCAB[: int(rng.choice([10, 40, 120]))], size=int(rng.integers(1, 7))))
        k = int(rng.choice([1, 3, 10, 50]))
        allow = None if rng.random() < 0.5 else np.sort(rng.choice(sorted(texts), size=len(texts) // 10,
                                                                    replace=False))
        ids, scores = keyword_sqlite.top_k(c, terms, k, allow, cache)
        want_ids, want_scores = brute(texts, terms, k, None if allow is None else set(allow.tolist()))
        assert ids.tolist() == want_ids, (terms, k)
        assert scores.tobytes() == want_scores
