"""`embkit eval retrieval` end to end on a real (small) BEIR cut: the report's metrics
equal pytrec_eval's on the same run, the corpus index is cached, bad folders fail."""

import contextlib
import json
import os
import sqlite3
import subprocess
import sys

import pytest
import pytrec_eval

import embkit
from embkit.evaluate import load_beir
from embkit.evaluate.retrieval import corpus_collection, run_queries


def cli(*args, home, ok=True):
    env = dict(os.environ, EMBKIT_HOME=str(home))
    proc = subprocess.run([sys.executable, "-m", "embkit.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600, env=env)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def trec(run, qrels):
    measures = {"ndcg_cut.10", "recall.10", "recall.100", "map_cut.100"}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    # every qrels query has results here, so BEIR's average and embkit's agree
    return {name: sum(q[key] for q in per_query.values()) / len(qrels)
            for name, key in (("ndcg@10", "ndcg_cut_10"), ("recall@10", "recall_10"), ("recall@100", "recall_100"),
                              ("map@100", "map_cut_100"))}


@pytest.mark.parametrize("mode", ["keyword", "dense", "hybrid"])
def test_report_matches_pytrec_eval(small_beir, tmp_path, mode):
    home = tmp_path / "home"
    report_path = tmp_path / "report.json"
    out = json.loads(cli("eval", "retrieval", "--beir", small_beir, "--mode", mode, "--json", "-o", report_path,
                         home=home).stdout)
    assert json.loads(report_path.read_text()) == out
    assert out["queries"] == 30 and out["settings"]["mode"] == mode
    assert out["settings"]["ignore_identical_ids"] is False  # SciFact's query ids are never corpus ids
    data = load_beir(small_beir, "test")
    os.environ["EMBKIT_HOME"], saved = str(home), os.environ["EMBKIT_HOME"]
    try:
        col = corpus_collection(data, small_beir / "corpus.jsonl", collections=embkit)
        run = run_queries(col, data.queries, mode)
        col.close()
    finally:
        os.environ["EMBKIT_HOME"] = saved
    reference = trec(run, data.qrels)
    for name, value in reference.items():
        assert out["metrics"][name] == pytest.approx(value, abs=1e-6)
    assert out["metrics"]["ndcg@10"] > 0.6  # a real retriever on real data, not a shuffled list


def test_chunked_corpus_ranks_documents_by_their_best_chunk(small_beir, tmp_path):
    """--chunk stores long abstracts as chunks, as `add` does; the run still names corpus
    documents (each once), and its metrics are pytrec_eval's on that run."""
    home = tmp_path / "home"
    out = json.loads(cli("eval", "retrieval", "--beir", small_beir, "--mode", "hybrid", "--chunk", "--json",
                         home=home).stdout)
    assert out["settings"]["chunk"] is True
    data = load_beir(small_beir, "test")
    os.environ["EMBKIT_HOME"], saved = str(home), os.environ["EMBKIT_HOME"]
    try:
        col = corpus_collection(data, small_beir / "corpus.jsonl", collections=embkit, chunk=True)
        documents, chunks = col.count(unit="document"), col.count()
        run = run_queries(col, data.queries, "hybrid", documents=True)
        col.close()
    finally:
        os.environ["EMBKIT_HOME"] = saved
    assert chunks > documents == len([i for i in data.corpus if data.doc_text(i)])  # some abstracts were cut
    assert all(set(ranked) <= set(data.corpus) for ranked in run.values())  # document ids, never `ID#i`
    for name, value in trec(run, data.qrels).items():
        assert out["metrics"][name] == pytest.approx(value, abs=1e-6)
    assert out["metrics"]["ndcg@10"] > 0.6


def test_the_corpus_index_is_reused(small_beir, tmp_path):
    home = tmp_path / "home"
    first = json.loads(cli("eval", "retrieval", "--beir", small_beir, "--mode", "keyword", "--json", home=home).stdout)
    folders = list((home / "eval").iterdir())
    assert len(folders) == 1
    # a rebuild creates the database anew: a table the test adds to this one would be gone
    with contextlib.closing(sqlite3.connect(folders[0] / "embkit.db")) as db, db:
        db.execute("CREATE TABLE test_marker (run TEXT)")
        db.execute("INSERT INTO test_marker VALUES ('first')")
    second = json.loads(cli("eval", "retrieval", "--beir", small_beir, "--mode", "keyword", "--json", home=home).stdout)
    assert second["metrics"] == first["metrics"] and list((home / "eval").iterdir()) == folders
    with contextlib.closing(sqlite3.connect(folders[0] / "embkit.db")) as db:
        assert db.execute("SELECT run FROM test_marker").fetchall() == [("first",)]


def test_bad_beir_folders_fail_with_the_file_named(small_beir, tmp_path):
    proc = cli("eval", "retrieval", "--beir", tmp_path / "nowhere", home=tmp_path / "h", ok=False)
    assert proc.returncode == 1 and "nowhere" in proc.stderr
    proc = cli("eval", "retrieval", "--beir", small_beir, "--split", "dev", home=tmp_path / "h", ok=False)
    assert proc.returncode == 1 and "dev.tsv" in proc.stderr
    proc = cli("eval", "retrieval", "--beir", small_beir, "--mode", "fuzzy", home=tmp_path / "h", ok=False)
    assert proc.returncode == 1 and "mode" in proc.stderr


def test_hybrid_beats_both_retrievers_on_the_cut(small_beir, tmp_path, monkeypatch):
    monkeypatch.setenv("EMBKIT_HOME", str(tmp_path / "home"))
    from embkit.evaluate.retrieval import eval_retrieval

    scores = {mode: eval_retrieval(small_beir, mode=mode, collections=embkit)["metrics"]["ndcg@10"]
              for mode in ("dense", "keyword", "hybrid")}
    assert scores["hybrid"] >= max(scores["dense"], scores["keyword"]) - 0.01, scores


def test_empty_documents_are_left_out_of_the_index(tmp_path, monkeypatch):
    """Cranfield has two empty documents: they cannot be embedded or found, so the
    corpus index skips them and the evaluation still runs."""
    monkeypatch.setenv("EMBKIT_HOME", str(tmp_path / "home"))
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    docs = [{"_id": "1", "title": "", "text": "gzip compresses files"}, {"_id": "2", "title": "", "text": "  "},
            {"_id": "3", "title": "Weather", "text": "sunny tomorrow"}]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q", "text": "compress files with gzip"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq\t1\t1\n")
    from embkit.evaluate.retrieval import eval_retrieval

    report = eval_retrieval(folder, mode="keyword", collections=embkit)
    assert report["metrics"]["ndcg@10"] == pytest.approx(1.0) and report["documents"] == 3
    col = corpus_collection(load_beir(folder, "test"), folder / "corpus.jsonl", collections=embkit)
    assert col.count() == 2 and col.get(["2"]) == []
    col.close()


def test_the_index_cache_key_follows_the_weights_not_the_training_report(tmp_path):
    """A training command rewrites embkit-train.json after its own evaluation; that must
    not make the next evaluation re-embed the corpus, while new weights must."""
    from embkit.evaluate.retrieval import _model_stamp

    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights")
    (model / "embkit-train.json").write_text("{}")
    before = _model_stamp(str(model))
    (model / "embkit-train.json").write_text('{"evaluation": {"after": 0.7}}')
    assert _model_stamp(str(model)) == before
    (model / "model.safetensors").write_bytes(b"new weights")
    os.utime(model / "model.safetensors", ns=(1, 1))
    assert _model_stamp(str(model)) != before
