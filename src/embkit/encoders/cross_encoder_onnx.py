"""A cross-encoder scored on onnxruntime + tokenizers: reranking without torch.

Reads the folder the way sentence-transformers' `CrossEncoder` does (the pair
tokenized with truncation "longest_first" at the model's max length, the logit through
the saved activation), so its scores equal torch's to float32 rounding."""

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import EmbkitError

_ACTIVATIONS = {
    "Sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "Identity": lambda x: x,
    "Tanh": np.tanh,
}


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        return {}


def max_length_of(folder: Path) -> int:
    """Tokens of query + text the model reads: the saved max_seq_length, else the
    tokenizer's model_max_length, capped by the position embeddings (as CrossEncoder does)."""
    limit = int(_json(folder / "config.json").get("max_position_embeddings", 512))
    saved = _json(folder / "sentence_bert_config.json").get("max_seq_length")
    if saved is None:
        saved = _json(folder / "tokenizer_config.json").get("model_max_length")
    return min(int(saved), limit) if isinstance(saved, (int, float)) and saved > 0 else limit


def activation_of(folder: Path):
    """The activation CrossEncoder applies to the logit (sigmoid unless saved otherwise),
    looked up where it looks: config_sentence_transformers.json, config.json's
    `sentence_transformers` (sentence-transformers 4.x), config.json's older key. Like
    CrossEncoder (without trust_remote_code), a path outside torch gives the sigmoid."""
    config = _json(folder / "config.json")
    saved = config.get("sentence_transformers")
    name = (_json(folder / "config_sentence_transformers.json").get("activation_fn")
            or (saved.get("activation_fn") if isinstance(saved, dict) else None)
            or config.get("sbert_ce_default_activation_function")  # older format
            or "Sigmoid")
    if "." in str(name) and not str(name).startswith("torch."):
        name = "Sigmoid"
    short = str(name).rsplit(".", 1)[-1]
    if short not in _ACTIVATIONS:
        raise EmbkitError(f"reranker: {folder}'s activation {name!r} is not supported "
                          f"(only {', '.join(_ACTIVATIONS)})")
    return _ACTIVATIONS[short]


def _normalize_as_configured(tokenizer, folder: Path) -> None:
    """transformers' BERT tokenizer rebuilds tokenizer.json's normalizer when
    tokenizer_config.json says otherwise (do_lower_case, strip_accents,
    tokenize_chinese_chars); so does this, or a folder whose two files disagree would be
    tokenized unlike torch."""
    from tokenizers.normalizers import BertNormalizer

    state = _json(folder / "tokenizer.json").get("normalizer") or {}
    config = _json(folder / "tokenizer_config.json")
    if state.get("type") != "BertNormalizer":
        return
    wanted = {"lowercase": config.get("do_lower_case", state.get("lowercase", True)),
              "strip_accents": config.get("strip_accents", state.get("strip_accents")),
              "handle_chinese_chars": config.get("tokenize_chinese_chars", state.get("handle_chinese_chars", True))}
    if any(state.get(name) != value for name, value in wanted.items()):
        tokenizer.normalizer = BertNormalizer(clean_text=state.get("clean_text", True), **wanted)


class OnnxCrossEncoder:
    """Scores (query, text) pairs with the ONNX export of a cross-encoder folder.
    Pairs are sorted by length so a batch pads little; `threads` single-threaded
    workers run batches side by side (default: up to 2). `same_length_batches` is for
    the int8 graph: it batches only pairs of one token length, so no pair is padded and
    every batch takes the unmasked attention; with its per-token activation scales a
    pair's score is then bit-identical alone or among any batch-mates (a padded batch's
    masked attention differs from the unmasked in the last float bits, which int8
    rounding can magnify to ~1e-3). `one_pair_per_run` runs each pair alone (for a graph
    scaling activations per tensor, whose scores a batch would move)."""

    def __init__(self, folder: Path, onnx_path: Path | bytes, threads: int | None = None, batch_tokens: int = 2048,
                 one_pair_per_run: bool = False, same_length_batches: bool = False):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.folder, self.onnx_path, self.batch_tokens = folder, onnx_path, batch_tokens
        self.one_pair_per_run, self.same_length_batches = one_pair_per_run, same_length_batches
        self.max_length = max_length_of(folder)
        self._activation = activation_of(folder)
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        _normalize_as_configured(self._tokenizer, folder)
        side = _json(folder / "tokenizer_config.json").get("truncation_side", "right")  # as transformers reads it
        self._tokenizer.enable_truncation(max_length=self.max_length, strategy="longest_first",
                                          direction="left" if side == "left" else "right")
        self._tokenizer.no_padding()
        self._workers = max(1, int(threads)) if threads else min(2, os.cpu_count() or 1)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        model = onnx_path if isinstance(onnx_path, bytes) else str(onnx_path)  # bytes: built in memory
        self._session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    def predict(self, pairs: Sequence[tuple[str, str]], batch_size: int = 32, **_ignored) -> np.ndarray:
        """The score of each (query, text) pair, in order, as float32 (the signature of
        CrossEncoder.predict, so callers need not know which one they hold)."""
        pairs = [(str(q), str(t)) for q, t in pairs]
        out = np.empty(len(pairs), dtype=np.float32)
        if not pairs:
            return out
        encodings = self._tokenizer.encode_batch(pairs)
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(-lengths, kind="stable")

        def run(rows: np.ndarray) -> None:
            width = int(lengths[rows[0]])  # longest first
            ids, types, mask = (np.zeros((len(rows), width), dtype=np.int64) for _ in range(3))
            for i, r in enumerate(rows):
                n = lengths[r]
                ids[i, :n], types[i, :n], mask[i, :n] = encodings[r].ids, encodings[r].type_ids, 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            logits = self._session.run(None, feeds)[0][:, 0]
            out[rows] = self._activation(logits.astype(np.float64))

        batches, start = [], 0
        while start < len(order):
            fits = max(1, self.batch_tokens // int(lengths[order[start]]))  # pairs of this length a batch holds
            rows = 1 if self.one_pair_per_run else min(batch_size, fits)
            if self.same_length_batches:  # the run of pairs as long as the first
                rows = min(rows, int(np.count_nonzero(lengths[order[start:start + rows]] == lengths[order[start]])))
            batches.append(order[start:start + rows])
            start += rows
        if self._workers == 1 or len(batches) == 1:
            for rows in batches:
                run(rows)
        else:
            with ThreadPoolExecutor(self._workers) as pool:
                list(pool.map(run, batches))
        return out
