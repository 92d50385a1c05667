"""sentence-transformers on torch: the reference the fast path is checked against.
Needs the `torch` extra; imported only when this backend is asked for."""

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from .base import Progress


def limit_torch_threads(threads: int | None) -> int | None:
    """Cap torch's intra-op threads at `threads` (None leaves torch's default). Torch
    keeps one setting per process, so the last model loaded with a cap sets it."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    return threads


class TorchEncoder:
    """A sentence-transformers model folder, run on CPU."""

    modality = "text"
    paired = None

    def __init__(self, name: str, model_dir: Path, dim: int, max_tokens: int = 256, normalized: bool = True,
                 threads: int | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
        from sentence_transformers import SentenceTransformer

        self.threads = limit_torch_threads(threads)

        self.name, self.dim, self.max_tokens, self.normalized = name, dim, max_tokens, normalized
        self._model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        self._model.max_seq_length = max_tokens

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        """Embed `texts` in order as an (n, dim) float32 array."""
        texts = list(texts)
        vectors = self._model.encode(texts, batch_size=batch_size, normalize_embeddings=self.normalized,
                                     convert_to_numpy=True, show_progress_bar=False)
        if progress:
            progress(len(texts))
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)
