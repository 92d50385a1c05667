"""Recommendations: documents like the ones a user liked and unlike the ones they
disliked, by searching with one profile vector (Rocchio's relevance feedback:
mean of the liked − weight × mean of the disliked)."""

from typing import Any, Sequence

import numpy as np

from .. import validate
from ..errors import EmbkitError
from ..search.hit import Hit
from ..search.mmr import check_mmr, mmr as diversify
from .common import no_documents

MMR_POOL = 4  # with mmr, diversify among this many × k candidates (as search does)


def recommend(col, liked: Sequence[str], disliked: Sequence[str] = (), k: int = 10, *,
              exclude_seen: bool = True, exclude: Sequence[str] = (), where: dict | None = None,
              mmr: float | None = None, disliked_weight: float = 0.5) -> list[Hit]:
    """Up to `k` documents (of the slice `where`) nearest the profile of `liked` and
    `disliked`, best first; scores are the search scores against the profile. The
    liked and disliked documents are never returned unless `exclude_seen=False`, and
    `exclude` ids never are (ids there need not exist: a history may hold deleted
    ones). `mmr=λ` diversifies the list (1 = relevance only)."""
    liked, disliked = _ids(liked, "liked"), _ids(disliked, "disliked")
    exclude = _ids(exclude, "exclude")
    if not liked:
        raise EmbkitError("liked: give at least one document id")
    both = sorted(set(liked) & set(disliked))
    if both:
        raise EmbkitError(f"disliked: {', '.join(map(repr, both))} also in liked")
    k = validate.check_k(k)
    mmr = None if mmr is None else check_mmr(mmr)
    if isinstance(disliked_weight, bool) or not isinstance(disliked_weight, (int, float)) or \
            not 0 <= disliked_weight < float("inf"):
        raise EmbkitError(f"disliked_weight: must be a finite number ≥ 0, got {disliked_weight!r}")
    profile = _profile(col, liked, disliked, float(disliked_weight))
    skip = set(exclude) | (set(liked) | set(disliked) if exclude_seen else set())
    _check_enough(col, k, skip, where)
    return _search(col, profile, k, skip, where, mmr)


def _ids(ids: Any, field: str) -> list[str]:
    if isinstance(ids, str) or not isinstance(ids, Sequence) or not all(isinstance(i, str) for i in ids):
        raise EmbkitError(f"{field}: expected a list of document ids (strings)")
    return list(dict.fromkeys(ids))


def _profile(col, liked: list[str], disliked: list[str], weight: float) -> np.ndarray:
    """mean(liked) − weight × mean(disliked), over the stored vectors."""
    vectors = {d.id: d.vector for d in col.get(liked + disliked, include_vectors=True)}
    for field, ids in (("liked", liked), ("disliked", disliked)):
        unknown = [i for i in ids if i not in vectors]
        if unknown:
            raise EmbkitError(f"{field}: no document with id {', '.join(map(repr, unknown[:5]))}"
                              + (f" (and {len(unknown) - 5} more)" if len(unknown) > 5 else ""))
    profile = np.mean([vectors[i] for i in liked], axis=0, dtype=np.float64)
    if disliked:
        profile -= weight * np.mean([vectors[i] for i in disliked], axis=0, dtype=np.float64)
    if np.linalg.norm(profile) < 1e-6:
        raise EmbkitError("disliked: the disliked documents cancel the liked ones out (the profile is zero); "
                          "lower disliked_weight")
    return profile.astype(np.float32)


def _check_enough(col, k: int, skip: set[str], where: dict | None) -> None:
    """k larger than what is left to recommend is an error, not a short list."""
    total = col.count(where)
    if total == 0:
        raise no_documents(col, where)
    available = total - (len(col.get(sorted(skip), where=where)) if skip else 0)
    if k > available:
        scope = "in the collection" + (" matching where" if where is not None else "")
        raise EmbkitError(f"k: must be at most {available} (documents {scope} that are not liked, disliked "
                          f"or excluded), got {k}")


def _search(col, profile: np.ndarray, k: int, skip: set[str], where, mmr) -> list[Hit]:
    """Search deep enough that k candidates (MMR_POOL × k with mmr) survive `skip`,
    doubling the depth while the index keeps returning skipped ones."""
    need = k * MMR_POOL if mmr is not None else k
    depth = min(need + len(skip), validate.MAX_K)
    while True:
        hits = col.search(vector=profile, k=depth, where=where)
        kept = [h for h in hits if h.id not in skip]
        if len(kept) >= need or len(hits) < depth or depth == validate.MAX_K:
            break
        depth = min(2 * depth, validate.MAX_K)
    if mmr is None or len(kept) <= 1:
        return kept[:k]
    pool = kept[:need]
    vectors = {d.id: d.vector for d in col.get([h.id for h in pool], include_vectors=True)}
    picks = diversify(np.array([h.score for h in pool]), np.stack([vectors[h.id] for h in pool]), k, mmr)
    return [pool[i] for i in picks]
