"""Maximal marginal relevance: a relevant list that does not repeat itself."""

import numpy as np

from ..errors import EmbkitError


def check_mmr(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise EmbkitError(f"mmr: must be a number from 0 to 1 (1 = relevance only, 0 = diversity only), got {value!r}")
    return float(value)


def mmr(relevance: np.ndarray, vectors: np.ndarray, k: int, lam: float) -> np.ndarray:
    """Positions of `k` candidates chosen greedily by
    lam × relevance − (1 − lam) × (highest cosine to one already chosen).
    `relevance` is min-max normalized first so both terms share a scale; `vectors`
    are the candidates' unit vectors."""
    n = len(relevance)
    if n == 0 or k <= 0:
        return np.empty(0, dtype=np.int64)
    relevance = np.asarray(relevance, dtype=np.float64)
    span = relevance.max() - relevance.min()
    relevance = (relevance - relevance.min()) / span if span > 0 else np.ones(n)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T
    chosen = [int(np.argmax(relevance))]
    redundancy = similarity[chosen[0]].copy()
    available = np.ones(n, dtype=bool)
    available[chosen[0]] = False
    while len(chosen) < min(k, n):
        value = np.where(available, lam * relevance - (1 - lam) * redundancy, -np.inf)
        pick = int(np.argmax(value))
        chosen.append(pick)
        available[pick] = False
        redundancy = np.maximum(redundancy, similarity[pick])
    return np.array(chosen, dtype=np.int64)
