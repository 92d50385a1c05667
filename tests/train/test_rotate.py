"""`embkit train rotate`: a PCA rotation fit on real SciFact abstracts. Full-dimension
scores are unchanged (to float precision), truncated vectors keep more of the full
similarities than plain truncation does, the ONNX and sentence-transformers paths
agree on the rotated model, and bad input changes nothing."""

import json
import subprocess
import sys

import numpy as np
import pytest

import embkit
from embkit.errors import EmbkitError
from embkit.train.rotate import pca_rotation, train_rotate

from corpora import DATA


@pytest.fixture(scope="module")
def abstracts() -> list[str]:
    path = DATA / "scifact" / "corpus.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[:700]]
    return [f"{r['title']} {r['text']}".strip()[:600] for r in rows]  # short: keeps the test fast


@pytest.fixture(scope="module")
def rotated(abstracts, tmp_path_factory):
    folder = tmp_path_factory.mktemp("rotate")
    texts = folder / "fit.txt"
    texts.write_text("\n".join(abstracts[:500]) + "\n", encoding="utf-8")
    out = folder / "minilm-pca"
    summary = train_rotate(out, "minilm", texts=texts, dims=[64])
    return out, summary, abstracts[500:]


def test_folder_holds_the_rotation_between_pooling_and_normalize(rotated):
    out, summary, _ = rotated
    modules = json.loads((out / "modules.json").read_text())
    assert [m["path"] for m in modules] == ["", "1_Pooling", "2_Rotation", "2_Normalize"]
    assert summary["texts"] == 500 and summary["name"] == "minilm-pca"
    assert 0 < summary["variance_kept"]["64"] < 1
    assert not (out.parent / f".{out.name}.partial").exists()


def test_full_dimension_scores_unchanged_and_vectors_rotated(rotated, minilm):
    out, _, held_out = rotated
    plain = minilm.encode(held_out)
    turned = embkit.load_encoder(str(out)).encode(held_out)
    assert turned.shape == plain.shape
    np.testing.assert_allclose(turned @ turned.T, plain @ plain.T, atol=1e-5)
    # the rotation is orthogonal: its rows map the plain vectors onto the rotated ones
    from embkit.encoders.dense_layer import read_projection

    weight = read_projection(out).weight
    np.testing.assert_allclose(weight @ weight.T, np.eye(384), atol=1e-5)
    np.testing.assert_allclose(plain @ weight.T, turned, atol=1e-5)


def _truncated_error(vectors: np.ndarray, dims: int) -> float:
    """Mean absolute gap between truncated and full cosine over every pair."""
    cut = vectors[:, :dims] / np.linalg.norm(vectors[:, :dims], axis=1, keepdims=True)
    return float(np.mean(np.abs(cut @ cut.T - vectors @ vectors.T)))


def test_truncated_vectors_keep_more_after_rotation(rotated, minilm):
    out, _, held_out = rotated  # texts the rotation was not fit on
    plain = minilm.encode(held_out)
    turned = embkit.load_encoder(str(out)).encode(held_out)
    for dims in (64, 128):
        assert _truncated_error(turned, dims) < 0.8 * _truncated_error(plain, dims)


def test_sentence_transformers_reads_the_same_rotated_model(rotated):
    pytest.importorskip("sentence_transformers")
    from sentence_transformers import SentenceTransformer

    out, _, held_out = rotated
    ours = embkit.load_encoder(str(out)).encode(held_out[:20])
    reference = SentenceTransformer(str(out), device="cpu").encode(held_out[:20])
    assert np.min(np.sum(ours * reference, axis=1)) > 0.99999


def test_pca_rotation_orders_axes_by_variance_and_is_deterministic():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 8)) * np.array([1, 5, 2, 0.1, 3, 1, 1, 1])
    components, variance = pca_rotation(x)
    assert list(variance) == sorted(variance, reverse=True)
    assert np.argmax(np.abs(components[0])) == 1 and np.argmax(np.abs(components[1])) == 4
    again, _ = pca_rotation(x)
    np.testing.assert_array_equal(components, again)
    # fewer texts than dimensions still gives a full orthogonal matrix
    few, _ = pca_rotation(x[:3])
    np.testing.assert_allclose(few @ few.T, np.eye(8), atol=1e-5)


def test_bad_input_is_refused_and_writes_nothing(rotated, tmp_path):
    out, _, _ = rotated
    texts = tmp_path / "t.txt"
    texts.write_text("one text\nanother text\n")
    target = tmp_path / "out"
    cases = [
        (dict(model="minilm", texts=texts, beir=DATA / "scifact"), "exactly one"),
        (dict(model="minilm"), "exactly one"),
        (dict(model="minilm", texts=tmp_path / "missing.txt"), "not found"),
        (dict(model="minilm", texts=texts, dims=[512]), "outside 1..384"),
        (dict(model="minilm", texts=texts, max_texts=1), "max_texts"),
        (dict(model=str(out), texts=texts), "already ends in a Dense"),
        (dict(model="no-such-model", texts=texts), "no-such-model"),
    ]
    for kwargs, message in cases:
        with pytest.raises(EmbkitError, match=message):
            train_rotate(target, **kwargs)
        assert not target.exists() and not (tmp_path / ".out.partial").exists()
    (tmp_path / "one.txt").write_text("just one\n\n")
    with pytest.raises(EmbkitError, match="at least 2"):
        train_rotate(target, "minilm", texts=tmp_path / "one.txt")
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(EmbkitError, match="--overwrite"):
        train_rotate(out, "minilm", texts=texts)
    assert sorted(p.name for p in out.iterdir()) == before


def test_cli_rotates_a_jsonl_file_and_reports_variance(tmp_path, abstracts):
    texts = tmp_path / "fit.jsonl"
    texts.write_text("".join(json.dumps({"text": t}) + "\n" for t in abstracts[:60]))
    out = tmp_path / "cli-pca"
    done = subprocess.run([sys.executable, "-m", "embkit.cli", "train", "rotate", "minilm", "--texts", str(texts),
                           "--dims", "128,32", "-o", str(out), "--no-eval", "--json"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["kind"] == "rotate" and summary["texts"] == 60 and summary["name"] == "cli-pca"
    # 60 centred texts span at most 59 directions: 128 dims keep all of their variance
    assert 0 < summary["variance_kept"]["32"] < 1 and summary["variance_kept"]["128"] == pytest.approx(1.0)
    bad = subprocess.run([sys.executable, "-m", "embkit.cli", "train", "rotate", "minilm", "--texts", str(texts),
                          "--dims", "x", "-o", str(tmp_path / "other"), "--no-eval"], capture_output=True, text=True)
    assert bad.returncode != 0 and "dims" in bad.stderr and not (tmp_path / "other").exists()
