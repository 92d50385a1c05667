"""Checks on a batch before anything is written: each error names the field, the
position and the limit, so a rejected batch changes nothing."""

import json
from typing import Any, Sequence

import numpy as np

from .errors import EmbkitError

MAX_TEXT_CHARS = 1_000_000
MAX_ID_CHARS = 512
MAX_METADATA_BYTES = 65_536
MAX_K = 10_000


def check_texts(texts: Any, field: str = "texts") -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise EmbkitError(f"{field}: expected a list of strings")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise EmbkitError(f"{field}[{i}]: expected a string, got {type(text).__name__}")
        if not text.strip():
            raise EmbkitError(f"{field}[{i}]: empty or whitespace-only text")
        if len(text) > MAX_TEXT_CHARS:
            raise EmbkitError(f"{field}[{i}]: text of {len(text)} characters exceeds the limit of {MAX_TEXT_CHARS}")
    return list(texts)


def check_query(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise EmbkitError("query: empty or whitespace-only text")
    if len(text) > MAX_TEXT_CHARS:
        raise EmbkitError(f"query: {len(text)} characters exceeds the limit of {MAX_TEXT_CHARS}")
    return text


def check_ids(ids: Any, n: int) -> list[str]:
    if isinstance(ids, str) or not isinstance(ids, Sequence):
        raise EmbkitError("ids: expected a list of strings")
    if len(ids) != n:
        raise EmbkitError(f"ids: {len(ids)} ids for {n} documents")
    seen: set[str] = set()
    for i, doc_id in enumerate(ids):
        if not isinstance(doc_id, str) or not doc_id.strip():
            raise EmbkitError(f"ids[{i}]: expected a non-empty string, got {doc_id!r}")
        if len(doc_id) > MAX_ID_CHARS:
            raise EmbkitError(f"ids[{i}]: id of {len(doc_id)} characters exceeds the limit of {MAX_ID_CHARS}")
        if doc_id in seen:
            raise EmbkitError(f"ids[{i}]: duplicate id {doc_id!r} in the batch")
        seen.add(doc_id)
    return list(ids)


def check_metadatas(metadatas: Any, n: int) -> list[dict]:
    if metadatas is None:
        return [{} for _ in range(n)]
    if not isinstance(metadatas, Sequence) or len(metadatas) != n:
        raise EmbkitError(f"metadatas: expected a list of {n} objects")
    for i, meta in enumerate(metadatas):
        if meta is None:
            continue
        if not isinstance(meta, dict) or not all(isinstance(k, str) for k in meta):
            raise EmbkitError(f"metadatas[{i}]: expected an object with string keys")
        try:
            encoded = json.dumps(meta, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise EmbkitError(f"metadatas[{i}]: not JSON-serializable ({e})") from None
        if len(encoded) > MAX_METADATA_BYTES:
            raise EmbkitError(f"metadatas[{i}]: {len(encoded)} bytes of JSON exceeds the limit of {MAX_METADATA_BYTES}")
    return [dict(m or {}) for m in metadatas]


def check_vectors(vectors: Any, n: int | None, dim: int, model: str, field: str = "vectors") -> np.ndarray:
    """An (n, dim) finite float32 array; a wrong width names both dimensions."""
    try:
        array = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError):
        raise EmbkitError(f"{field}: expected numbers in an (n, {dim}) array") from None
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise EmbkitError(f"{field}: expected an (n, {dim}) array, got shape {array.shape}")
    if array.shape[1] != dim:
        raise EmbkitError(f"{field}: dimension {array.shape[1]} does not match the collection's "
                          f"{dim} (model {model})")
    if n is not None and array.shape[0] != n:
        raise EmbkitError(f"{field}: {array.shape[0]} vectors for {n} documents")
    bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if bad.size:
        raise EmbkitError(f"{field}[{bad[0]}]: contains NaN or infinity")
    return array


def check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise EmbkitError(f"k: must be an integer from 1 to {MAX_K}, got {k!r}")
    return k

