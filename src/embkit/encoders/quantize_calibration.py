"""Which feed-forward channels of a BERT model carry outlier activations, found by running
the fp32 graph over a few built-in sentences.

The channels are a property of the weights, not of the text: the same single channel
per early layer of all-MiniLM-L6-v2 (absolute maxima 25, 20, 17 against ~5 for the next)
stands out on these sentences and on SciFact abstracts alike, so a short calibration text
that ships with the code is enough and nothing is read from outside the package.
"""

from pathlib import Path

import numpy as np

OUTLIER_RATIO = 2.0  # a channel whose max |activation| exceeds 2x the layer's 99th percentile
MAX_OUTLIERS = 8  # per layer: beyond this the fp32 side MatMul stops being cheap

CALIBRATION_TEXT = (
    "Aspirin irreversibly inhibits cyclooxygenase, which reduces the synthesis of prostaglandins and thromboxane.",
    "We measured the expression of 42 genes in tumour samples from 318 patients and found no association "
    "with survival after adjusting for age, stage and treatment (hazard ratio 1.04, 95% CI 0.91-1.19).",
    "The central bank raised interest rates by a quarter point on Wednesday, citing persistent inflation.",
    "How do I reset my password if I no longer have access to the email address on the account?",
    "A cat sat on the warm windowsill and watched the rain.",
    "def merge(a, b): return sorted(a + b)  # simple but O(n log n)",
    "The treaty was signed in 1648, ending thirty years of war across central Europe.",
    "Mitochondrial dysfunction in dopaminergic neurons is implicated in the pathogenesis of Parkinson's disease; "
    "here we show that loss of PINK1 impairs mitophagy in vivo.",
    "Preheat the oven to 200 degrees, then roast the vegetables for 25 minutes, turning once.",
    "Customer reviews mention the battery lasts two days, but the screen scratches easily.",
    "The defendant's appeal was dismissed because the lower court had applied the correct standard of review.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "Error: connection refused (port 5432). Is the database server running?",
    "She scored twice in the second half as the home side came back to win 3-2.",
    "Vaccination coverage above 95% is needed to interrupt measles transmission in most populations.",
    "Randomized controlled trial of vitamin D supplementation in older adults: no reduction in fracture risk "
    "was observed over five years of follow-up, and falls were slightly more frequent in the treatment arm.",
    "What is the capital of Australia?",
    "The new library opens at nine on weekdays and at ten on Saturdays; it is closed on Sundays.",
    "Gradient descent updates each parameter in the direction that most reduces the loss.",
    "Glaciers in the Alps have lost roughly half their volume since 1900.",
)


def find_outlier_channels(model_dir: Path, sentences=CALIBRATION_TEXT) -> dict[int, list[int]]:
    """{layer: feed-forward channels whose max |GELU output| over `sentences` exceeds
    OUTLIER_RATIO times the layer's 99th percentile}, at most MAX_OUTLIERS per layer."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    from .quantize_graph import build_int8_ready_bert

    ready = build_int8_ready_bert(model_dir)
    graph = ready.model.graph
    for name in ready.ffn_activations:
        graph.output.append(_float_output(name))
    session = ort.InferenceSession(ready.model.SerializeToString(), providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()  # a tokenizer.json may pad to a fixed length: pads would count as text
    tokenizer.enable_truncation(max_length=_calibration_length(model_dir))
    peaks = [0.0] * len(ready.ffn_activations)
    for sentence in sentences:
        ids = np.array([tokenizer.encode(sentence).ids], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        acts = session.run(ready.ffn_activations, feeds)
        peaks = [np.maximum(peak, np.abs(a[0]).max(axis=0)) for peak, a in zip(peaks, acts)]
    outliers = {}
    for layer, peak in enumerate(peaks):
        order = np.argsort(-peak, kind="stable")[:MAX_OUTLIERS]
        chosen = [int(c) for c in order if peak[c] > OUTLIER_RATIO * np.percentile(peak, 99)]
        if chosen:
            outliers[layer] = sorted(chosen)
    return outliers


def _calibration_length(model_dir: Path) -> int:
    """256 tokens, or fewer when the model has fewer positions (RoBERTa's start after its
    padding index): a longer sentence would index past the position embeddings."""
    import json

    from .bert_graph import position_pad

    config = json.loads((model_dir / "config.json").read_text())
    pad = position_pad(config)
    return min(256, int(config.get("max_position_embeddings", 512)) - (0 if pad is None else pad + 1))


def _float_output(name: str):
    from onnx import TensorProto, helper

    return helper.make_tensor_value_info(name, TensorProto.FLOAT, None)
