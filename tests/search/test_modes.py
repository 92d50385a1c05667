"""Collection.search in every mode, with the real model and a real keyword index:
exact ids, fused scores from the formula, filters on both retrievers, MMR, grouping
chunks by document, and errors that change nothing; on every store backend."""

import numpy as np
import pytest

import embkit

DOCS = {
    "argparse": "Parse command line arguments and options for a program.",
    "getopt": "A C-style parser for command line options.",
    "gzip": "Compress and decompress files in the gzip format.",
    "zlib": "Compression compatible with gzip: deflate and inflate byte streams.",
    "pool": "Run a function in parallel over many inputs with a pool of worker processes.",
    "csv": "Read and write comma separated value files.",
    "weather": "Tomorrow will be sunny with a light breeze.",
    "xyzzy": "The magic word xyzzy opens the grate in the colossal cave.",
}
KIND = {"argparse": "cli", "getopt": "cli", "gzip": "compress", "zlib": "compress", "pool": "parallel",
        "csv": "files", "weather": "note", "xyzzy": "note"}


@pytest.fixture
def col(backend, minilm):
    c = embkit.create(backend("c"))
    c.add(list(DOCS.values()), ids=list(DOCS), metadatas=[{"kind": KIND[i]} for i in DOCS])
    yield c
    c.close()


def ids(hits):
    return [h.id for h in hits]


def test_keyword_mode_matches_terms_and_stems(col):
    assert ids(col.search("xyzzy", mode="keyword")) == ["xyzzy"]  # a word no model knows
    hits = col.search("compressing files", mode="keyword", k=3)  # stemmed: compress, file
    assert ids(hits)[0] == "gzip" and set(ids(hits)) == {"gzip", "zlib", "csv"}
    assert all(h.keyword_rank == r for r, h in enumerate(hits, 1)) and all(h.dense_rank is None for h in hits)
    assert col.search("the of and", mode="keyword") == []  # only stopwords: nothing to match


def test_dense_mode_fills_dense_fields(col):
    hits = col.search("reading spreadsheets exported as text", k=2)
    assert hits[0].id == "csv" and hits[0].dense_rank == 1 and hits[0].dense_score == pytest.approx(hits[0].score)
    assert hits[0].keyword_rank is None


def test_hybrid_is_rrf_of_the_two_lists(col):
    query = "command line parser"
    dense = col.search(query, k=8)
    keyword = col.search(query, k=8, mode="keyword")
    hybrid = col.search(query, k=8, mode="hybrid", rrf_k=60)
    rank_of = {h.id: r for r, h in enumerate(dense, 1)}
    kw_rank = {h.id: r for r, h in enumerate(keyword, 1)}
    for h in hybrid:
        expected = sum(1 / (60 + ranks[h.id]) for ranks in (rank_of, kw_rank) if h.id in ranks)
        assert h.score == pytest.approx(expected, abs=1e-6)
        assert h.dense_rank == rank_of.get(h.id) and h.keyword_rank == kw_rank.get(h.id)
    assert ids(hybrid)[:2] in (["argparse", "getopt"], ["getopt", "argparse"])


def test_hybrid_by_default_weights_normalized_scores_equally(col):
    query = "command line parser"
    dense = {h.id: h.score for h in col.search(query, k=8)}
    keyword = {h.id: h.score for h in col.search(query, k=8, mode="keyword")}

    def normalized(scores):
        low, high = min(scores.values()), max(scores.values())
        return {i: (s - low) / (high - low) for i, s in scores.items()}

    d, kw = normalized(dense), normalized(keyword)
    for h in col.search(query, k=8, mode="hybrid"):
        assert h.score == pytest.approx(0.5 * d.get(h.id, 0) + 0.5 * kw.get(h.id, 0), abs=1e-6)


def test_hybrid_alpha_extremes_follow_one_retriever(col):
    query = "magic cave word"
    assert ids(col.search(query, k=3, mode="hybrid", alpha=1.0)) == ids(col.search(query, k=3))
    assert ids(col.search(query, k=1, mode="hybrid", alpha=0.0)) == ids(col.search(query, k=1, mode="keyword"))


@pytest.mark.parametrize("mode", ["dense", "keyword", "hybrid"])
def test_where_filters_every_retriever(col, mode):
    hits = col.search("gzip compression command line", k=8, mode=mode, where={"kind": "cli"})
    assert hits and set(ids(hits)) <= {"argparse", "getopt"}


def test_deleted_and_upserted_documents_in_keyword_and_hybrid(col):
    col.delete(["xyzzy"])
    assert "xyzzy" not in ids(col.search("xyzzy magic word", mode="hybrid"))
    col.upsert(["Plugh is another magic word."], ids=["weather"])
    assert ids(col.search("plugh", mode="keyword")) == ["weather"]
    assert col.search("sunny breeze", mode="keyword") == []


def test_mmr_trades_a_near_duplicate_for_something_new(backend, minilm):
    c = embkit.create(backend("m"))
    texts = ["Compress files with gzip.", "Compress files using gzip.", "Compress files with gzip!",
             "Archive folders into a tar file.", "Sunny weather tomorrow."]
    c.add(texts, ids=["a", "b", "c", "tar", "sun"])
    plain = ids(c.search("compress files", k=3))
    diverse = ids(c.search("compress files", k=3, mmr=0.3))
    assert set(plain) == {"a", "b", "c"} and "tar" in diverse and diverse[0] == plain[0]
    c.close()


def test_documents_keeps_the_best_chunk_per_parent(backend, minilm):
    c = embkit.create(backend("d"))
    c.add(["Gzip compresses files.", "Gzip decompresses files too.", "The csv module reads files."],
          ids=["g#0", "g#1", "csv"],
          metadatas=[{"parent": "g", "start": 0, "end": 22}, {"parent": "g", "start": 23, "end": 51}, {}])
    chunks = c.search("gzip files", k=3)
    docs = c.search("gzip files", k=3, documents=True)
    assert ids(chunks)[:2] in (["g#0", "g#1"], ["g#1", "g#0"])
    assert ids(docs) == [ids(chunks)[0], "csv"] and docs[0].parent == "g" and docs[0].start is not None
    c.close()


@pytest.mark.parametrize("call, message", [
    (dict(query="x", mode="fuzzy"), "mode: must be one of"),
    (dict(vector=np.ones(384), mode="keyword"), "mode: keyword search needs a query text"),
    (dict(query="x", mode="hybrid", rrf_k=-1), "rrf_k"),
    (dict(query="x", mode="hybrid", alpha=2), "alpha"),
    (dict(query="x", mode="hybrid", alpha=0.5, rrf_k=60), "alpha: give rrf_k"),
    (dict(query="x", mmr=1.5), "mmr"),
    (dict(query="x", rerank=5), "reranker: rerank=N needs a cross-encoder folder"),
    (dict(query="x", rerank=0, reranker="/nowhere"), "rerank: must be an integer"),
    (dict(query="x", rerank=3, reranker="/nowhere"), "reranker: /nowhere is not a cross-encoder folder"),
])
def test_bad_search_arguments_name_the_field(col, call, message):
    before = col.count()
    with pytest.raises(embkit.EmbkitError, match=message):
        col.search(**call)
    assert col.count() == before


def test_context_is_numbered_cited_deduplicated_and_within_budget(backend, minilm):
    c = embkit.create(backend("r"))
    body = "Gzip compresses files with the deflate algorithm. It is common on Unix systems."
    c.add([body, body + " ", "Tar archives folders; gzip then compresses the archive.", "Sunny tomorrow."],
          ids=["a", "a-copy", "tar", "sun"], metadatas=[{"source": "gzip.md", "page": 2}, {}, {"source": "tar.md"}, {}])
    ctx = c.context("how does gzip compress files?", budget_tokens=60)
    assert [p.n for p in ctx.passages] == list(range(1, len(ctx.passages) + 1))
    assert {p.id for p in ctx.passages} & {"a", "a-copy"} and not {"a", "a-copy"} <= {p.id for p in ctx.passages}
    assert ctx.tokens <= 60 and "tar" in {p.id for p in ctx.passages}
    first = ctx.passages[0]
    assert ctx.text.startswith("[1] ") and first.text in ctx.text
    tar = next(p for p in ctx.passages if p.id == "tar")
    assert f"[{tar.n}] tar.md (id tar)" in ctx.text
    small = c.context("how does gzip compress files?", budget_tokens=5)
    assert small.passages == [] or small.tokens <= 5
    with pytest.raises(embkit.EmbkitError, match="budget_tokens"):
        c.context("gzip", budget_tokens=0)
    c.close()
