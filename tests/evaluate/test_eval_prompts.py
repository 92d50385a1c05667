"""`embkit eval retrieval --prompts/--no-prompts` (issue 24): by default a model's
corpus is embedded with its document prompt, as it was trained; --no-prompts embeds
the corpus (and the queries) as given, in an index of its own, and says so in the
report. A Ray run cannot drop the prompts and says so."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import embkit
from embkit.cli import app
from embkit.errors import EmbkitError
from embkit.evaluate.retrieval import eval_retrieval

from prompted_folder import DOCUMENT, prompted_folder

DOCS = {"1": "gzip compresses files with the deflate algorithm", "2": "it will be sunny and warm tomorrow"}


@pytest.fixture
def beir(tmp_path):
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": "", "text": t}) + "\n"
                                                 for i, t in DOCS.items()))
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q", "text": "how do I compress a file"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq\t1\t1\n")
    return folder


def test_no_prompts_embeds_the_corpus_as_given_in_its_own_index(beir, tmp_path, monkeypatch):
    monkeypatch.setenv("EMBKIT_HOME", str(tmp_path / "home"))
    model = str(prompted_folder(tmp_path / "model"))
    reports = {}
    for flag in ("--prompts", "--no-prompts"):
        done = CliRunner().invoke(app, ["eval", "retrieval", "--beir", str(beir), "--model", model, flag, "--json"])
        assert done.exit_code == 0, done.output
        reports[flag] = json.loads(done.stdout)
    assert reports["--prompts"]["settings"]["prompts"] is True
    assert reports["--no-prompts"]["settings"]["prompts"] is False
    assert reports["--prompts"]["metrics"]["recall@10"] == reports["--no-prompts"]["metrics"]["recall@10"] == 1.0
    encoder = embkit.load_encoder(model)
    prompted = encoder.encode([DOCUMENT + t for t in DOCS.values()])
    plain = encoder.encode(list(DOCS.values()))
    kept = {}
    for folder in sorted((tmp_path / "home" / "eval").iterdir()):
        with embkit.open(folder) as col:
            table = col.table()
            kept[folder.name] = np.array([dict(zip(table.ids, table.vectors))[i] for i in DOCS])
    assert len(kept) == 2
    matches = sorted(("prompted" if np.allclose(v, prompted, atol=1e-6) else
                      "plain" if np.allclose(v, plain, atol=1e-6) else "neither") for v in kept.values())
    assert matches == ["plain", "prompted"]


def test_no_prompts_embeds_the_queries_as_given(tmp_path, monkeypatch):
    """The query side: a model with a query prompt only (the corpus is embedded as given
    either way), and a corpus holding the query as given and the query with its prompt.
    The query's vector equals one of the two exactly, so the one ranked first says
    which query was embedded: the prompted one by default, the plain one with --no-prompts."""
    from prompted_folder import QUERY

    monkeypatch.setenv("EMBKIT_HOME", str(tmp_path / "home"))
    model = str(prompted_folder(tmp_path / "model", prompts={"query": QUERY}))
    question = "how do I compress a file"
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": "", "text": t}) + "\n" for i, t in
                                                 {"prompted": QUERY + question, "plain": question}.items()))
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q", "text": question}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq\tprompted\t1\n")
    first = {}
    for flag in ("--prompts", "--no-prompts"):
        done = CliRunner().invoke(app, ["eval", "retrieval", "--beir", str(folder), "--model", model, flag, "--json"])
        assert done.exit_code == 0, done.output
        first[flag] = json.loads(done.stdout)["metrics"]["mrr@10"]
    assert first == {"--prompts": 1.0, "--no-prompts": 0.5}

def test_a_ray_run_without_prompts_is_refused_before_any_work(beir, tmp_path):
    model = str(prompted_folder(tmp_path / "model"))
    with pytest.raises(EmbkitError, match="prompts: Ray evaluation embeds with the model's prompts"):
        eval_retrieval(beir, model=model, collections=embkit, prompts=False, ray_address="local")


class Probe:
    """A task that keeps the vectors it is given."""

    name, dataset, split, n, settings, mteb_task = "probe", "probe", "test", 2, {"runs": 1}, None
    texts = ["a cat on a mat", "a dog in the fog"]

    def score(self, vectors):
        self.seen = vectors
        return {"rows": len(vectors)}


def test_a_symmetric_task_embeds_every_text_in_the_role_asked(tmp_path):
    from embkit.evaluate.report import run_task

    from prompted_folder import QUERY

    model = str(prompted_folder(tmp_path / "model"))
    encoder = embkit.load_encoder(model)
    for role, prompt in (("query", QUERY), (None, "")):
        probe = Probe()
        report = run_task(probe, encoder, role=role)
        np.testing.assert_allclose(probe.seen, encoder.encode([prompt + t for t in Probe.texts]), atol=1e-6)
        assert report["settings"] == ({"runs": 1, "role": "query"} if role else {"runs": 1})
    with pytest.raises(EmbkitError, match="role: must be one of query, document"):
        run_task(Probe(), encoder, role="both")
