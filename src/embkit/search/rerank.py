"""Reranking with a cross-encoder from a local folder (sentence-transformers
`CrossEncoder` format: a user's own ms-marco model works, as does one trained by
`embkit train reranker`). Needs the torch extra; loaded once per process."""

import os
import threading
from pathlib import Path

import numpy as np

from ..errors import EmbkitError

MAX_RERANK = 1000
_loaded: dict[str, object] = {}
_lock = threading.Lock()


def check_rerank(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RERANK:
        raise EmbkitError(f"rerank: must be an integer from 1 to {MAX_RERANK} (how many top hits to rescore), "
                          f"got {value!r}")
    return value


def load_reranker(path: str | os.PathLike):
    """The cross-encoder saved in folder `path` (cached per process)."""
    folder = Path(path).expanduser()
    if not (folder / "config.json").is_file():
        raise EmbkitError(f"reranker: {folder} is not a cross-encoder folder (no config.json); "
                          "train one with `embkit train reranker` or give a local CrossEncoder folder")
    key = str(folder.resolve())
    with _lock:
        if key not in _loaded:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network
            try:
                from sentence_transformers import CrossEncoder
            except ImportError:
                raise EmbkitError("reranker: needs the torch extra (pip install 'embkit[torch]')") from None
            _loaded[key] = CrossEncoder(key, device="cpu", local_files_only=True)
    return _loaded[key]


def rerank_scores(model, query: str, texts: list[str], batch_size: int = 32) -> np.ndarray:
    """The cross-encoder's score of each (query, text) pair, higher is more relevant."""
    if not texts:
        return np.empty(0, dtype=np.float32)
    pairs = [(query, text or "") for text in texts]
    return np.asarray(model.predict(pairs, batch_size=batch_size, show_progress_bar=False), dtype=np.float32)
