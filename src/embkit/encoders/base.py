"""The Encoder interface: text in, float32 vectors out."""

from typing import Callable, Protocol, Sequence, runtime_checkable

import numpy as np

Progress = Callable[[int], None]  # called with the number of texts just finished


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into an (n, dim) float32 array. Chosen by the catalog, never by callers."""

    name: str
    dim: int
    normalized: bool
    max_tokens: int
    modality: str  # "text", "image" for an image tower (inputs: image paths), "audio" for an audio tower (audio files)
    paired: str | None  # the model name of the other tower embedding into the same space (CLIP-style), or None
    threads: int | None  # the most inference threads it runs (None: its backend's default)
    # Optional, read with getattr by encoders/prompts.py only: `prompts`, role ("query",
    # "document") -> the text the model expects before such a text. encode() never adds it.

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        """Embed `texts` (or images, for an image tower) in order; `progress` hears of each finished batch."""
        ...


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Average of the token vectors that the attention mask keeps."""
    mask = mask[:, :, None].astype(np.float32)
    return (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
