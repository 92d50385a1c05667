"""A transformer encoder on onnxruntime + tokenizers: the fast, torch-free query path."""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import EmbkitError
from .base import Progress, l2_normalize
from .onnx_weights import weights_apart
from .pooling import pool_tokens
from .token_window import window_ids, windowed
from .tokenizer_files import shared_tokenizer


class OnnxEncoder:
    """Per-batch padding, truncation at `max_tokens`, pooling (`pooling`: mean, cls or
    lasttoken, see pooling.py), optional L2 normalization. Texts are sorted by length so
    each batch pads little; a batch holds at most `batch_size` texts and about
    `batch_tokens` padded tokens, because small batches of long texts keep the attention
    matrices in cache (measured on SciFact: 49 docs/s at 512 tokens a batch against 36
    at 32 × 256, and a third of the peak memory). Batches run on two single-threaded
    workers, which beats one two-threaded run on 2 cores for short texts. `threads` caps
    the inference threads (a worker that owns a fraction of the machine must not start
    a thread per core)."""

    modality = "text"
    paired = None  # a text-only model has no other tower

    def __init__(self, name: str, onnx_path: Path, tokenizer_path: Path, dim: int,
                 max_tokens: int = 256, normalized: bool = True, threads: int | None = None,
                 batch_tokens: int = 512, projection=None, pooling: str = "mean"):
        import onnxruntime as ort

        self.name, self.dim, self.max_tokens, self.normalized = name, dim, max_tokens, normalized
        self.batch_tokens, self.pooling = batch_tokens, pooling
        self._projection = projection  # a Dense module after pooling (encoders/dense_layer.py)
        # the process's one plain tokenizer of this file (the chunker and counts share it);
        # ids are cut at max_tokens here, as its own truncation would (token_window.py)
        self._tokenizer = shared_tokenizer(tokenizer_path)
        specials = self._tokenizer.num_special_tokens_to_add(False)
        if max_tokens <= specials:  # refused here, once, not on every encode
            raise EmbkitError(f"max_seq_length: the model's window of {max_tokens} tokens leaves no room for text "
                              f"beside its {specials} special tokens (it must be more than {specials})")
        self.threads = threads
        self._workers = max(1, int(threads)) if threads else min(2, os.cpu_count() or 1)
        options = ort.SessionOptions()
        # one thread per session call when batches run in parallel or threads are capped;
        # else onnxruntime's default (0 = one per core)
        options.intra_op_num_threads = 1 if self._workers > 1 or threads else 0
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # weights apart: mapped, not copied (~75 MiB less a process for MiniLM; see onnx_weights.py)
        self._session = ort.InferenceSession(str(weights_apart(onnx_path)), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}

    @property
    def tokenizer(self):
        """Its `tokenizers.Tokenizer`, without truncation or padding: the one of its file
        in this process (shared_tokenizer; do not reconfigure it)."""
        return self._tokenizer

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text after truncation (what the model actually reads)."""
        return [len(ids) for ids in windowed(self._tokenizer, texts, self.max_tokens)]

    def token_states(self, text: str) -> np.ndarray:
        """The last layer's vector of every piece of `text` (special tokens included, after
        truncation), as a (pieces, hidden) array: what pooling reads."""
        ids = np.array([window_ids(self._tokenizer.encode(text), self.max_tokens)], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        return self._session.run(None, feeds)[0][0]

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        """Embed `texts` in order as an (n, dim) float32 array."""
        texts = list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = windowed(self._tokenizer, texts, self.max_tokens)
        lengths = np.array([len(ids) for ids in encodings])
        order = np.argsort(-lengths, kind="stable")

        def run(rows: np.ndarray) -> int:
            width = int(lengths[rows[0]])  # longest first, so the first row sets the width
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for i, r in enumerate(rows):
                n = len(encodings[r])
                ids[i, :n], mask[i, :n] = encodings[r], 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self._session.run(None, feeds)[0]
            pooled = pool_tokens(hidden, mask, self.pooling)
            if self._projection is not None:
                pooled = self._projection(pooled)
            out[rows] = l2_normalize(pooled) if self.normalized else pooled
            return len(rows)

        batches = self._batches(order, lengths, batch_size)
        if self._workers == 1 or len(batches) == 1:
            for n in map(run, batches):
                progress and progress(n)
        else:
            with ThreadPoolExecutor(self._workers) as pool:
                for n in pool.map(run, batches):
                    progress and progress(n)
        return out

    def _batches(self, order: np.ndarray, lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
        """Consecutive runs of `order` (longest first) within the text and token limits.
        A run stops early where the length changes if the texts before that point hold
        a quarter of the token budget: a batch without padding runs the graph's fused
        attention (bert_graph.py), and a lone abstract at 256 tokens is work enough."""
        batches, start = [], 0
        while start < len(order):
            width = int(lengths[order[start]])
            rows = min(batch_size, max(1, self.batch_tokens // width), len(order) - start)
            same = int(np.count_nonzero(lengths[order[start:start + rows]] == width))  # longest first: a prefix
            if same < rows and same * width >= self.batch_tokens // 4:
                rows = same
            batches.append(order[start:start + rows])
            start += rows
        return batches
