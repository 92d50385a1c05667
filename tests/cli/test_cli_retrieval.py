"""The retrieval commands as real processes: search modes, context, their errors."""

import json

import pytest

from test_cli import fails, run

DOCS = [
    {"id": "argparse", "text": "Parse command line arguments and options for a program.", "kind": "cli"},
    {"id": "getopt", "text": "A C-style parser for command line options.", "kind": "cli"},
    {"id": "gzip", "text": "Compress and decompress files in the gzip format.", "kind": "compress"},
    {"id": "xyzzy", "text": "The magic word xyzzy opens the grate in the colossal cave.", "kind": "note"},
]


@pytest.fixture(scope="module")
def col(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli") / "c"
    run("init", folder)
    run("add", folder, "-", stdin="\n".join(json.dumps(d) for d in DOCS) + "\n")
    return folder


def test_keyword_and_hybrid_modes(col):
    out = json.loads(run("search", col, "xyzzy", "--mode", "keyword", "--json").stdout)
    assert [r["id"] for r in out["hits"]] == ["xyzzy"] and out["hits"][0]["keyword_rank"] == 1
    out = json.loads(run("search", col, "command line parser", "--mode", "hybrid", "-k", "2", "--json").stdout)
    assert {r["id"] for r in out["hits"]} == {"argparse", "getopt"}
    assert all("dense_rank" in r and "keyword_rank" in r for r in out["hits"])
    text = run("search", col, "command line parser", "--mode", "hybrid", "--rrf-k", "60", "-k", "1").stdout
    assert "[dense #" in text and "keyword #" in text


def test_context_json_and_text(col):
    out = json.loads(run("context", col, "how do I parse command line options?", "--budget-tokens", "40",
                         "--json").stdout)
    assert out["tokens"] <= 40 and out["passages"] and out["passages"][0]["n"] == 1
    assert out["text"].startswith("[1] ") and out["passages"][0]["text"] in out["text"]
    text = run("context", col, "how do I parse command line options?").stdout
    assert text.startswith("[1] ") and "argparse" in text


@pytest.mark.parametrize("args, message", [
    (["search", "{col}", "--like", "gzip", "--mode", "keyword"], "mode: keyword search needs a query text"),
    (["search", "{col}", "q", "--mode", "fuzzy"], "mode: must be one of"),
    (["search", "{col}", "q", "--mode", "hybrid", "--alpha", "0.5", "--rrf-k", "60"], "alpha: give rrf_k"),
    (["search", "{col}", "q", "--rerank", "5"], "reranker: rerank=N needs a cross-encoder folder"),
    (["search", "{col}", "   ", "--mode", "keyword"], "query"),
    (["search", "{col}", "q", "-k", "0", "--mode", "keyword"], "k:"),
    (["context", "{col}", "q", "--budget-tokens", "0"], "budget_tokens"),
])
def test_errors_name_the_field(col, args, message):
    line = fails(*[a.format(col=col) for a in args])
    assert message in line
