"""MTEB's ignore_identical_ids in `embkit eval retrieval`: when queries are also corpus
documents (ArguAna, Quora, CQADupStack), a query's own document is dropped from its
results by default, `--keep-identical` keeps it, and either way the report's metrics are
pytrec_eval's on the run MTEB would score."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import pytrec_eval

import embkit
from embkit.evaluate import load_beir
from embkit.evaluate.retrieval import DEPTH, corpus_collection, eval_retrieval, run_queries

MEASURES = (("ndcg@10", "ndcg_cut_10"), ("recall@10", "recall_10"), ("recall@100", "recall_100"),
            ("map@100", "map_cut_100"))


def cli(*args, home):
    env = dict(os.environ, EMBKIT_HOME=str(home))
    proc = subprocess.run([sys.executable, "-m", "embkit.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def trec(run, qrels):
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.10", "recall.100", "map_cut.100"})
    scores = per_query.evaluate(run)
    return {name: sum(q[key] for q in scores.values()) / len(qrels) for name, key in MEASURES}


@pytest.fixture(scope="module")
def self_beir(small_beir, tmp_path_factory):
    """The SciFact cut with each test query's text added to the corpus under the query's
    own id (SciFact's query and corpus ids never meet, so these are the only overlaps)."""
    folder = tmp_path_factory.mktemp("self") / "beir"
    shutil.copytree(small_beir, folder)
    data = load_beir(folder, "test")
    assert not set(data.queries) & set(data.corpus)
    with open(folder / "corpus.jsonl", "a", encoding="utf-8") as f:
        for qid, text in data.queries.items():
            f.write(json.dumps({"_id": qid, "title": "", "text": text}) + "\n")
    return folder


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """One EMBKIT_HOME for the module, so the corpus is embedded once."""
    return tmp_path_factory.mktemp("home")


def mteb_run(col, queries, drop):
    """The reference run, searched directly: depth + 1 hits, the query's own id popped (MTEB)."""
    run = {}
    for qid, text in queries.items():
        names = [hit.document for hit in col.search(text, k=DEPTH + 1, mode="dense")]
        names = [name for name in names if name != qid] if drop else names
        run[qid] = {name: float(DEPTH + 1 - position) for position, name in enumerate(names[:DEPTH])}
    return run


def test_own_ids_are_dropped_by_default_and_kept_on_request(self_beir, home, tmp_path):
    said = cli("eval", "retrieval", "--beir", self_beir, "-o", tmp_path / "report.json", home=home)
    assert "queries' own ids left out of their results" in said
    dropped = json.loads((tmp_path / "report.json").read_text())
    kept = json.loads(cli("eval", "retrieval", "--beir", self_beir, "--json", "--keep-identical", home=home))
    assert dropped["settings"]["ignore_identical_ids"] is True and kept["settings"]["ignore_identical_ids"] is False
    data = load_beir(self_beir, "test")
    os.environ["EMBKIT_HOME"], saved = str(home), os.environ["EMBKIT_HOME"]
    try:
        col = corpus_collection(data, self_beir / "corpus.jsonl", collections=embkit)
        own_first = sum(col.search(text, k=1)[0].document == qid for qid, text in data.queries.items())
        with_own, without_own = mteb_run(col, data.queries, drop=False), mteb_run(col, data.queries, drop=True)
        col.close()
    finally:
        os.environ["EMBKIT_HOME"] = saved
    assert own_first == len(data.queries) == 30  # kept, every query finds itself first
    for name, value in trec(without_own, data.qrels).items():
        assert dropped["metrics"][name] == pytest.approx(value, abs=1e-6), name
    for name, value in trec(with_own, data.qrels).items():
        assert kept["metrics"][name] == pytest.approx(value, abs=1e-6), name
    assert kept["metrics"]["ndcg@10"] < dropped["metrics"]["ndcg@10"] - 0.1  # its own copy pushed every answer down


def test_a_query_still_gets_depth_results_without_its_own_id(self_beir, home, monkeypatch):
    monkeypatch.setenv("EMBKIT_HOME", str(home))
    data = load_beir(self_beir, "test")
    col = corpus_collection(data, self_beir / "corpus.jsonl", collections=embkit)
    try:
        run = run_queries(col, data.queries, ignore_identical=True)
    finally:
        col.close()
    assert all(len(ranked) == DEPTH and qid not in ranked for qid, ranked in run.items())


def test_python_follows_the_same_rule(self_beir, home, monkeypatch):
    """On by default where a query id is a corpus id (off where none is: SciFact itself,
    test_retrieval_eval.py); False keeps the own ids, as --keep-identical does."""
    monkeypatch.setenv("EMBKIT_HOME", str(home))
    on = eval_retrieval(self_beir, mode="keyword", collections=embkit)
    off = eval_retrieval(self_beir, mode="keyword", collections=embkit, ignore_identical_ids=False)
    assert on["settings"]["ignore_identical_ids"] is True and off["settings"]["ignore_identical_ids"] is False
    assert off["metrics"]["ndcg@10"] < on["metrics"]["ndcg@10"]
