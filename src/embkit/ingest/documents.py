"""Texts handed over as documents (Python `Collection.add`, the HTTP add route) into the
records the store holds, through the same chunker as `embkit add` (text_files.chunk_all):
the same text, id and metadata give the same chunk ids, boundaries and metadata."""

import warnings
from typing import NamedTuple, Sequence

from ..encoders.tokenizer_files import encoder_tokenizer, model_max_tokens, reads_whole_texts
from ..errors import EmbkitWarning
from .text_files import chunk_all

DEFAULT_CHUNK_TOKENS, DEFAULT_OVERLAP = 256, 32  # as `embkit add`


class Prepared(NamedTuple):
    """A batch ready to embed: `documents` (one id per text given, what the caller sees)
    and the records to store (a document that fits is one record with its own id, a
    longer one its chunks `ID#i`)."""

    documents: list[str]
    ids: list[str]
    texts: list[str]
    metadatas: list[dict]


def split_documents(model: str, doc_ids: Sequence[str], texts: Sequence[str], metadatas: Sequence[dict],
                    chunk: bool = True, chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
                    overlap: int = DEFAULT_OVERLAP) -> Prepared:
    """Chunk the texts longer than `model` reads (capped at its window), as `embkit add`
    does. With `chunk=False` every text is one record, and one the model will truncate
    is named in a warning (EmbkitWarning). A model that reads whole texts (word vectors)
    or no model at all: nothing to chunk."""
    doc_ids, texts, metadatas = list(doc_ids), list(texts), list(metadatas)
    whole = Prepared(doc_ids, doc_ids, texts, metadatas)
    if model == "none" or reads_whole_texts(model):
        return whole
    limit = model_max_tokens(model)
    if not chunk:
        _warn_truncated(model, doc_ids, texts, limit)
        return whole
    chunk_tokens = min(chunk_tokens, limit) if limit else chunk_tokens
    docs = [(d, t, m, None, None, None, f"texts[{n}]") for n, (d, t, m) in enumerate(zip(doc_ids, texts, metadatas))]
    records = chunk_all(docs, model, chunk_tokens, overlap)
    return Prepared(doc_ids, [r.id for r in records], [r.text for r in records], [r.metadata for r in records])


def _warn_truncated(model: str, doc_ids: list[str], texts: list[str], limit: int | None) -> None:
    """chunk=False: say which texts the model reads only the start of."""
    if not limit:
        return
    tokenizer = encoder_tokenizer(model)
    long = [d for d, t in zip(doc_ids, texts) if len(tokenizer.encode(t).ids) > limit]
    if long:
        warnings.warn(f"texts: {len(long)} text(s) longer than model {model!r} reads ({limit} tokens) stored "
                      f"whole with chunk=False; only their start is embedded (first: {long[0]!r})",
                      EmbkitWarning, stacklevel=5)
