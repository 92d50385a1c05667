"""The query side of a dense search: the vector a request searches with (a text, an
image or a sound embedded by the space's encoder or its paired tower, a given vector, or the
vector of a stored document for `like`), prepared as the space stores its vectors."""

from functools import cache
from typing import Callable

import numpy as np

from ..encoders import Encoder
from ..encoders.base import l2_normalize
from ..encoders.prompts import encode_as
from ..errors import EmbkitError
from ..ingest.lookup import records_of
from ..ingest.vectors import stored_form
from ..store import Space, Store
from .query_audio import audio_query
from .request import SearchRequest

EncoderFor = Callable[[str, str], Encoder]  # (modality, field) -> the encoder that embeds it into the space


def query_vector(req: SearchRequest, store: Store, space: Space,
                 encoder_for: EncoderFor) -> tuple[Callable[[], np.ndarray], frozenset[str]]:
    """A function giving the query vector (a text is embedded only if it is called: a
    keyword search never loads the model; with the model's query prompt) and the ids
    its hits leave out (`like`'s)."""
    if req.query is not None:  # embedded once: a search asked again (vanished_rows) reuses it
        return cache(lambda: stored_form(encode_as(encoder_for("text", "query"), [req.query], "query"),
                                         space.metric, "query")), frozenset()
    if req.image is not None:
        q = stored_form(encoder_for("image", "image").encode([req.image]), space.metric, "image")
    elif req.audio is not None:
        q = stored_form(audio_query(encoder_for("audio", "audio"), req.audio), space.metric, "audio")
    elif req.vector is not None:
        q = stored_form(req.vector, space.metric, "vector")
    else:
        q, exclude = like_vector(store, space, req.like)
        return lambda: q, exclude
    return lambda: q, frozenset()


def like_vector(store: Store, space: Space, like: str) -> tuple[np.ndarray, frozenset[str]]:
    """The query vector of `like=ID` and the ids to leave out of its hits: a record's
    own vector, or for a document stored as chunks the normalized mean of theirs."""
    records = records_of(store, [like])  # a record, or a document's chunks in order (ingest's one rule)
    found, vectors = store.vectors(space.name, [r.rowid for r in records]) if records else ([], [])
    if not len(found):
        raise EmbkitError(f"like: no document with id {like!r}")
    by_row = dict(zip(np.asarray(found).tolist(), vectors))
    kept = [r for r in records if r.rowid in by_row]
    q = np.mean([by_row[r.rowid] for r in kept], axis=0, dtype=np.float32)[None, :]
    if len(kept) > 1 and space.metric == "cosine":
        q = l2_normalize(q)
    return q, frozenset(r.id for r in kept)

