"""`embkit train distill`: model2vec distills the packaged MiniLM offline into a static
model that embkit loads as --model, with a before/after evaluation on held-out data."""

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("model2vec.distill")

import embkit  # noqa: E402
from embkit.train.distill import train_distill  # noqa: E402
from embkit.train.evaluation import EvalData  # noqa: E402

from corpora import DATA  # noqa: E402


@pytest.fixture(scope="module")
def distilled(tmp_path_factory, small_beir):
    out = tmp_path_factory.mktemp("distill") / "m2v"
    evaluation = EvalData(DATA / "stsb", small_beir, collections=embkit)
    summary = train_distill(out, "minilm", pca_dims=128, evaluation=evaluation)
    return out, summary


def test_the_folder_is_a_model_that_embeds_as_model2vec_does(distilled):
    from model2vec import StaticModel

    out, summary = distilled
    encoder = embkit.load_encoder(str(out))
    assert encoder.dim == 128 and encoder.normalized
    texts = ["A man is playing a guitar.", "Stock markets fell sharply today."]
    np.testing.assert_allclose(encoder.encode(texts), StaticModel.from_pretrained(str(out)).encode(texts), atol=1e-6)
    assert json.loads((out / "embkit-train.json").read_text()) == summary


def test_evaluation_before_and_after_on_held_out_data(distilled):
    ev = distilled[1]["evaluation"]
    assert abs(ev["sts_spearman"]["before"] - 0.8203) < 0.001  # MiniLM on STS-B test (MTEB: 0.820)
    assert 0.6 < ev["sts_spearman"]["after"] < ev["sts_spearman"]["before"]  # measured 0.66 at 256 dims
    r = ev["retrieval"]
    assert r["split"] == "test" and 0 < r["after"]["ndcg@10"] < r["before"]["ndcg@10"]
    speed = distilled[1]["speed"]
    assert speed["base"] > 0 and speed["distilled"] > 0  # figures only: timings are not asserted


def test_a_collection_searches_with_the_distilled_model(distilled, tmp_path):
    cli = [sys.executable, "-m", "embkit.cli"]
    docs = tmp_path / "docs.jsonl"
    docs.write_text("\n".join(json.dumps({"id": i, "text": t}) for i, t in [
        ("guitar", "A man is playing a guitar on stage."), ("market", "Stock markets fell sharply today."),
        ("cat", "The cat sleeps on the sofa.")]) + "\n")
    subprocess.run(cli + ["init", str(tmp_path / "c"), "--model", str(distilled[0])], check=True)
    subprocess.run(cli + ["add", str(tmp_path / "c"), str(docs)], check=True, capture_output=True)
    found = subprocess.run(cli + ["search", str(tmp_path / "c"), "share prices dropped", "-k", "1", "--json"],
                           check=True, capture_output=True, text=True)
    assert json.loads(found.stdout)["hits"][0]["id"] == "market"


@pytest.mark.parametrize("base, options, message", [
    ("minilm", {"pca_dims": 512}, "pca_dims: 512 is more than the base model's 384 dimensions"),
    ("minilm", {"pca_dims": 1}, "pca_dims: must be an integer of at least 2"),
    ("no-such-model", {}, "base: 'no-such-model' is neither a catalog model, a registered model nor a model folder"),
    ("glove-50d", {}, "base: 'glove-50d' is a static word-vector model"),
])
def test_bad_input_is_refused_before_anything_is_written(tmp_path, base, options, message):
    with pytest.raises(embkit.EmbkitError, match=message):
        train_distill(tmp_path / "out", base, **options)
    assert not list(tmp_path.iterdir())


def test_existing_output_and_missing_eval_data_are_refused(distilled, tmp_path):
    before = sorted(p.name for p in distilled[0].iterdir())
    with pytest.raises(embkit.EmbkitError, match="output: .* exists and is not empty \\(use --overwrite"):
        train_distill(distilled[0], "minilm")
    assert sorted(p.name for p in distilled[0].iterdir()) == before
    with pytest.raises(embkit.EmbkitError, match="eval_sts: .*sts-test.csv not found"):
        EvalData(tmp_path / "nowhere")
