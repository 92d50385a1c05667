"""Reranking with a cross-encoder from a local folder (sentence-transformers
`CrossEncoder` format: a user's own ms-marco model works, as does one trained by
`embkit train reranker`). A BERT cross-encoder is exported to ONNX once (cached by
fingerprint under EMBKIT_HOME/models) and scored on onnxruntime without torch; any
other architecture falls back to sentence-transformers (the torch extra). Loaded once
per process. EMBKIT_RERANKER_VARIANT=int8 picks the int8 export (faster, slightly
different scores)."""

import os
import threading
from pathlib import Path

import numpy as np

from ..errors import EmbkitError

MAX_RERANK = 1000
TRAIN_INFO = "embkit-train.json"  # written by `embkit train reranker`: holds the blend weight
VARIANT_ENV = "EMBKIT_RERANKER_VARIANT"  # fp32 (default) or int8
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
    variant = os.environ.get(VARIANT_ENV) or "fp32"
    key = f"{folder.resolve()}|{variant}"
    with _lock:
        if key not in _loaded:
            _loaded[key] = _onnx_reranker(folder.resolve(), variant) or _torch_reranker(folder.resolve())
    return _loaded[key]


def _onnx_reranker(folder: Path, variant: str):
    """The ONNX scorer of a BERT cross-encoder (exported on first use), else None."""
    from ..encoders.cross_encoder_export import cross_encoder_onnx, cross_encoder_onnx_bytes, is_bert_cross_encoder

    if not is_bert_cross_encoder(folder):
        return None
    from ..encoders.cross_encoder_onnx import OnnxCrossEncoder

    try:
        model = cross_encoder_onnx(folder, variant)
    except OSError:  # EMBKIT_HOME cannot be written: built for this process alone
        try:
            model = cross_encoder_onnx_bytes(folder, variant)
        except OSError as error:
            raise EmbkitError(f"reranker: cannot export {folder} to ONNX: {error}") from None
    return OnnxCrossEncoder(folder, model, same_length_batches=variant == "int8")  # int8: batch-independent scores


def _torch_reranker(folder: Path):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network
    try:
        from sentence_transformers import CrossEncoder
    except ImportError:
        raise EmbkitError(f"reranker: {folder} is not a BERT cross-encoder, which needs the torch extra "
                          "(pip install 'embkit[torch]')") from None
    return CrossEncoder(str(folder), device="cpu", local_files_only=True)


def rerank_scores(model, query: str, texts: list[str], batch_size: int = 32) -> np.ndarray:
    """The cross-encoder's score of each (query, text) pair, higher is more relevant."""
    if not texts:
        return np.empty(0, dtype=np.float32)
    pairs = [(query, text or "") for text in texts]
    return np.asarray(model.predict(pairs, batch_size=batch_size, show_progress_bar=False), dtype=np.float32)


def blend_of(path) -> float | None:
    """The blend weight saved with a reranker trained by embkit, if any (a foreign
    cross-encoder has none: its score is used alone)."""
    import json

    info = Path(path).expanduser() / TRAIN_INFO
    try:
        blend = json.loads(info.read_text()).get("blend") if info.is_file() else None
    except (OSError, ValueError):
        return None
    return float(blend) if isinstance(blend, (int, float)) else None


def blend_scores(first_stage: np.ndarray, reranker: np.ndarray, weight: float | None) -> np.ndarray:
    """weight × reranker + (1 − weight) × first stage, each min-max normalized over the
    reranked hits; with no weight, the reranker's score alone."""
    if weight is None:
        return np.asarray(reranker, dtype=np.float32)

    def unit(x):
        x = np.asarray(x, dtype=np.float64)
        span = x.max() - x.min() if len(x) else 0
        return (x - x.min()) / span if span > 0 else np.zeros_like(x)

    return (weight * unit(reranker) + (1 - weight) * unit(first_stage)).astype(np.float32)
