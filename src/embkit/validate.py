"""Checks on a batch before anything is written: each error names the field, the
position and the limit, so a rejected batch changes nothing."""

import json
from typing import Any, Sequence

import numpy as np

from .errors import EmbkitError

MAX_TEXT_CHARS = 1_000_000  # a text the model reads once: a query, a text to embed
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024  # one stored document (UTF-8), before it is chunked and embedded
MAX_ID_CHARS = 512
MAX_METADATA_BYTES = 65_536  # one document's metadata, JSON-encoded
MAX_METADATA_DEPTH = 32  # nested objects and lists in one document's metadata
# a filter's objects and lists: enough for the compiler's own limit (32 levels of $and/$or,
# each an object and a list; store/where.py), which is the one a user meets with its message
MAX_FILTER_NESTING = 100
MAX_K = 10_000
ROWS_AT_ONCE = 1024  # rows of a list read as float64 at a time (check_vectors)


def check_unicode(text: str, field: str) -> str:
    """A string that can be stored and tokenized: UTF-8-encodable (a lone surrogate,
    e.g. from a JSON escape `\\ud800`, is not). The message never holds the bad text."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise EmbkitError(f"{field}: not valid Unicode (lone surrogate at position {e.start})") from None
    return text


def printable(text: str) -> str:
    """`text` safe to put in a one-line message: surrogates, line breaks and other
    unprintable characters shown as escapes (a metadata key may hold any of them)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def check_texts(texts: Any, field: str = "texts", max_chars: int | None = MAX_TEXT_CHARS) -> list[str]:
    """Non-blank, valid-Unicode strings of at most `max_chars` characters (None: no
    character limit; a stored document's size is checked by check_document_bytes)."""
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise EmbkitError(f"{field}: expected a list of strings")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise EmbkitError(f"{field}[{i}]: expected a string, got {type(text).__name__}")
        if not text.strip():
            raise EmbkitError(f"{field}[{i}]: empty or whitespace-only text")
        if max_chars is not None and len(text) > max_chars:
            raise EmbkitError(f"{field}[{i}]: text of {len(text)} characters exceeds the limit of {max_chars}")
        check_unicode(text, f"{field}[{i}]")
    return list(texts)


def check_query(text: Any, field: str = "query") -> str:
    if not isinstance(text, str) or not text.strip():
        raise EmbkitError(f"{field}: empty or whitespace-only text")
    if len(text) > MAX_TEXT_CHARS:
        raise EmbkitError(f"{field}: {len(text)} characters exceeds the limit of {MAX_TEXT_CHARS}")
    return check_unicode(text, field)


def check_max_document_bytes(limit: Any) -> int:
    """A configured document size limit (CLI option, keyword, server setting)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise EmbkitError(f"max_document_bytes: must be a positive integer, got {limit!r}")
    return limit


def check_document_bytes(text: str, field: str, limit: int = MAX_DOCUMENT_BYTES) -> None:
    """One document's text is at most `limit` bytes of UTF-8: checked before it is
    chunked or embedded, so an oversized one costs no time and writes nothing."""
    if len(text) * 4 <= limit:  # no UTF-8 character takes more than 4 bytes
        return
    size = len(check_unicode(text, field).encode("utf-8"))
    if size > limit:
        raise EmbkitError(f"{field}: document of {size} bytes exceeds the limit of {limit} bytes "
                          "(max_document_bytes)")


def check_documents_bytes(texts: Sequence[str], field: str, limit: int | None) -> None:
    """check_document_bytes for each text of a batch (`limit` None: the default)."""
    limit = MAX_DOCUMENT_BYTES if limit is None else check_max_document_bytes(limit)
    for i, text in enumerate(texts):
        if isinstance(text, str):
            check_document_bytes(text, f"{field}[{i}]", limit)


def check_id_list(ids: Any, field: str = "ids") -> list[str]:
    """Ids to look up or delete: a list of valid-Unicode strings."""
    if isinstance(ids, str) or not isinstance(ids, Sequence):
        raise EmbkitError(f"{field}: expected a list of strings")
    for i, doc_id in enumerate(ids):
        if not isinstance(doc_id, str):
            raise EmbkitError(f"{field}[{i}]: expected a string, got {type(doc_id).__name__}")
        check_unicode(doc_id, f"{field}[{i}]")
    return list(ids)


def check_where(where: Any) -> Any:
    """A metadata filter's strings are valid Unicode and its nesting is bounded, before
    the compiler (store/where.py, which has its own rules and depth) walks it."""
    check_tree(where, "where", MAX_FILTER_NESTING, limit=None, refuse_nul=False)  # a NUL operand matches nothing
    return where


def check_tree(value: Any, field: str, max_depth: int = MAX_METADATA_DEPTH,
               limit: str | None = "max_metadata_depth", refuse_nul: bool = True) -> None:
    """A JSON-like value (metadata, a filter) nested at most `max_depth` objects or
    lists deep, whose keys and strings are valid Unicode without NUL (SQLite's JSON
    functions end a string at U+0000 and PostgreSQL's jsonb cannot hold it: a stored one
    would be matched by its prefix on one backend and refused on the other). Walked
    without recursion, so a value nested thousands deep is refused instead of
    exhausting the stack."""
    stack = [(value, field, 1)]
    while stack:
        node, where, depth = stack.pop()
        if isinstance(node, str):
            check_unicode(node, where)
            if refuse_nul and "\x00" in node:
                raise EmbkitError(f"{where}: contains a NUL character (U+0000), which metadata cannot hold")
            continue
        if not isinstance(node, (dict, list, tuple)):
            continue
        if depth > max_depth:
            limit_note = f" (limit {limit})" if limit else ""
            raise EmbkitError(f"{field}: nested more than {max_depth} levels deep{limit_note}")
        if isinstance(node, dict):
            for key, child in node.items():
                if isinstance(key, str):
                    check_unicode(key, f"{where} (a key)")
                    if refuse_nul and "\x00" in key:
                        raise EmbkitError(f"{where}: a key contains a NUL character (U+0000), "
                                          "which metadata cannot hold")
                stack.append((child, f"{where}.{printable(str(key))}", depth + 1))
        else:
            stack.extend((child, f"{where}[{i}]", depth + 1) for i, child in enumerate(node))


def check_ids(ids: Any, n: int) -> list[str]:
    if isinstance(ids, str) or not isinstance(ids, Sequence):
        raise EmbkitError("ids: expected a list of strings")
    if len(ids) != n:
        raise EmbkitError(f"ids: {len(ids)} ids for {n} documents")
    seen: set[str] = set()
    for i, doc_id in enumerate(ids):
        if not isinstance(doc_id, str) or not doc_id.strip():
            raise EmbkitError(f"ids[{i}]: expected a non-empty string, got {doc_id!r}")
        check_unicode(doc_id, f"ids[{i}]")
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
        if meta is not None:
            check_metadata(meta, f"metadatas[{i}]")
    return [dict(m or {}) for m in metadatas]


def check_metadata(meta: Any, field: str) -> None:
    """One document's metadata: an object with string keys (check_tree's rules) that JSON
    can hold (no NaN or infinity) within MAX_METADATA_BYTES."""
    if not isinstance(meta, dict) or not all(isinstance(k, str) for k in meta):
        raise EmbkitError(f"{field}: expected an object with string keys")
    check_tree(meta, field)  # first: json.dumps would recurse without bound
    try:
        encoded = json.dumps(meta, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise EmbkitError(f"{field}: not JSON-serializable ({e})") from None
    if len(encoded) > MAX_METADATA_BYTES:
        raise EmbkitError(f"{field}: {len(encoded)} bytes of JSON exceeds the limit of "
                          f"{MAX_METADATA_BYTES} (limit max_metadata_bytes)")


def check_vectors(vectors: Any, n: int | None, dim: int, model: str, field: str = "vectors") -> np.ndarray:
    """An (n, dim) finite float32 array; a wrong width names both dimensions."""
    array = _rows_float32(vectors)
    if array is None:
        try:
            array = np.asarray(vectors)
            if array.dtype.kind not in "iuf" or _bools_among(vectors, array):
                raise TypeError(array.dtype)  # "1.5" and True were read as 1.5 and 1.0
            array = array.astype(np.float32, copy=False)
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
    if not np.isfinite(array).all():
        bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
        raise EmbkitError(f"{field}[{bad[0]}]: contains NaN or infinity")
    return array


def _rows_float32(vectors: Any) -> np.ndarray | None:
    """A long list of rows as one float32 array, read ROWS_AT_ONCE rows at a time: numpy
    reads Python floats as float64, and the whole list at once held that copy (twice the
    result's bytes) beside the result. None for anything else, or when a block is odd (not
    numbers, a bool, not 2-d, another width): the whole list is then read as before, which
    refuses it with its message."""
    if not isinstance(vectors, (list, tuple)) or len(vectors) <= ROWS_AT_ONCE or \
            not isinstance(vectors[0], (list, tuple, np.ndarray)):
        return None
    out, dtypes, int_blocks = None, set(), []
    for start in range(0, len(vectors), ROWS_AT_ONCE):
        rows = vectors[start:start + ROWS_AT_ONCE]
        try:
            block = np.asarray(rows)
        except (TypeError, ValueError):
            return None
        if block.ndim != 2 or block.dtype.kind not in "iuf" or _bools_among(rows, block):
            return None
        if out is None:
            out = np.empty((len(vectors), block.shape[1]), dtype=np.float32)
        elif block.shape[1] != out.shape[1]:
            return None
        out[start:start + len(rows)] = block  # cast as astype(np.float32) casts
        dtypes.add(block.dtype)
        if block.dtype.kind in "iu":
            int_blocks.append(start)
        del block  # freed before the next block is read: one float64 block at a time
    if np.result_type(*dtypes).kind == "f":  # the whole list reads as floats: its ints went through float64
        for start in int_blocks:  # int64 -> float32 rounds once, via float64 twice (2**60 + 2**36 + 1)
            out[start:start + ROWS_AT_ONCE] = np.asarray(vectors[start:start + ROWS_AT_ONCE]).astype(np.float64)
    return out


def _bools_among(vectors: Any, array: np.ndarray) -> bool:
    """True if a list of numbers (or of rows), read as `array`, holds a bool: numpy reads
    [0.5, True] as float64 [0.5, 1.0], so the array's dtype does not tell it. Only rows
    holding a 0 or a 1 are looked into (an embedding's rarely do: ~0.3 ms, not ~14 ms, for
    1,000 rows of 384); an array (numpy's, a tensor) is its dtype."""
    if not isinstance(vectors, (list, tuple)) or array.ndim not in (1, 2):
        return False
    zero_or_one = (array == 0) | (array == 1)
    if array.ndim == 1:  # a query vector: ~3 us for 384 numbers
        return bool(zero_or_one.any()) and not _BOOLS.isdisjoint(map(type, vectors))
    for i in np.flatnonzero(zero_or_one.any(axis=1)):
        row = vectors[i]
        if isinstance(row, np.ndarray):
            if row.dtype.kind == "b":
                return True
        elif isinstance(row, (list, tuple)) and not _BOOLS.isdisjoint(map(type, row)):
            return True
    return False


_BOOLS = frozenset((bool, np.bool_))


def check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise EmbkitError(f"k: must be an integer from 1 to {MAX_K}, got {k!r}")
    return k

