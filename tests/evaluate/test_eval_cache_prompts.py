"""The evaluation's cached corpus index is keyed by the document prompt it was embedded
with: a run without prompts never reuses a prompted corpus, nor the reverse."""

import json

import embkit
from embkit.encoders.prompts import unprompted
from embkit.evaluate.retrieval import eval_retrieval

from prompted_folder import prompted_folder


def test_prompted_and_unprompted_runs_keep_their_own_corpus(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBKIT_HOME", str(tmp_path / "home"))
    model = str(prompted_folder(tmp_path / "model"))
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    docs = [{"_id": "1", "title": "", "text": "gzip compresses files"},
            {"_id": "2", "title": "Weather", "text": "sunny tomorrow"}]
    (beir / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (beir / "queries.jsonl").write_text(json.dumps({"_id": "q", "text": "compress files with gzip"}) + "\n")
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq\t1\t1\n")

    def folders():
        return sorted(p.name for p in (tmp_path / "home" / "eval").iterdir() if (p / "embkit.db").exists())

    eval_retrieval(beir, model=model, collections=embkit)
    (prompted,) = folders()
    with unprompted():
        eval_retrieval(beir, model=model, collections=embkit)
    assert len(folders()) == 2 and prompted in folders()
    (bare,) = set(folders()) - {prompted}
    assert prompted == bare + "-p" + prompted.rsplit("-p", 1)[1]  # the same key, plus the prompt's stamp
    eval_retrieval(beir, model=model, collections=embkit)
    assert len(folders()) == 2  # reused
