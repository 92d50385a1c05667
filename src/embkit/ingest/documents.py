"""Documents into the records the store holds, for every door (Python `Collection.add`,
the HTTP add route, `embkit add`, `Collection.add_files`): the same text, id and metadata
give the same chunk ids, boundaries and metadata whichever door they came through."""

from typing import Sequence

from ..encoders.prompts import declared_prompt, prompt_tokens
from ..encoders.tokenizer_files import encoder_tokenizer, model_max_tokens, reads_whole_texts
from ..errors import EmbkitError
from .chunk import MIN_CHUNK_TOKENS, ChunkRecord, chunk_records, whole_record
from .records import Prepared, SourceDocument

DEFAULT_CHUNK_TOKENS, DEFAULT_OVERLAP = 256, 32  # as `embkit add`


def split_documents(model: str, docs: Sequence[SourceDocument], chunk: bool = True,
                    chunk_tokens: int = DEFAULT_CHUNK_TOKENS, overlap: int = DEFAULT_OVERLAP,
                    strict: bool = False) -> Prepared:
    """Chunk the documents longer than `model` reads. `chunk_tokens` above the model's
    window is an error when `strict` (the user chose it), else capped to the window;
    a model with a document prompt gets chunks that fit its window beside the prompt.
    With `chunk=False` every document is one record, and one the model will truncate is
    named in the returned warnings. A model that reads whole texts (word vectors) or no
    model at all: nothing to chunk. Every record's metadata `parent` names its document."""
    if model == "none" or reads_whole_texts(model):
        return _prepared(docs, [whole_record(d.id, d.text, d.metadata) for d in docs])
    limit = model_max_tokens(model)  # read once: a model folder's config is a file
    if not chunk:
        room = None if limit is None else limit - prompt_room(model)
        return _prepared(docs, [whole_record(d.id, d.text, d.metadata) for d in docs],
                         _truncated(model, docs, room))
    fitted = fitted_chunk_tokens(model, chunk_tokens, limit, strict)
    if limit is not None:
        fitted = _beside_prompt(model, fitted, limit)
    if overlap == DEFAULT_OVERLAP:  # the default overlap, like the default size, fits a small window
        overlap = min(overlap, (fitted - 1) // 2)
    return _prepared(docs, chunk_all(docs, model, fitted, overlap))


def prompt_room(model: str) -> int:
    """Tokens the model's document prompt takes in its window (0 without one)."""
    prompt = declared_prompt(model, "document")
    return prompt_tokens(encoder_tokenizer(model), prompt) if prompt else 0


def _beside_prompt(model: str, chunk_tokens: int, limit: int) -> int:
    """`chunk_tokens` cut so that the document prompt and a chunk fit the window
    together: the prompt takes its tokens of the window, not of `chunk_tokens`."""
    room = limit - prompt_room(model)
    if room < MIN_CHUNK_TOKENS:
        raise EmbkitError(f"model: the document prompt of {model!r} leaves {room} of its {limit} tokens for the "
                          f"text; at least {MIN_CHUNK_TOKENS} are needed")
    return min(chunk_tokens, room)


def _prepared(docs: Sequence[SourceDocument], records: list[ChunkRecord], warnings: list[str] = ()) -> Prepared:
    return Prepared([d.id for d in docs], [r.id for r in records], [r.text for r in records],
                    [r.metadata for r in records], list(warnings))


def fitted_chunk_tokens(model: str, chunk_tokens: int, limit: int | None, strict: bool = True) -> int:
    """`chunk_tokens` within the model's window `limit` (None: unknown, no cap). Above it,
    a size the user chose is an error when `strict`; the default size is nobody's choice:
    it is cut to the window (a model that reads 128 tokens adds files with defaults)."""
    if limit is None or chunk_tokens <= limit:
        return chunk_tokens
    if not strict or chunk_tokens == DEFAULT_CHUNK_TOKENS:
        return limit
    raise EmbkitError(f"chunk_tokens: {chunk_tokens} is more than model {model!r} reads ({limit} tokens); "
                      f"use --chunk-tokens {limit} or less")


def chunk_all(docs: Sequence[SourceDocument], model: str, chunk_tokens: int, overlap: int) -> list[ChunkRecord]:
    """Records of every document: one that fits as one record, a longer one as chunks;
    a chunk id that meets another record's id (`a#0` given as an id) is an error."""
    tokenizer = encoder_tokenizer(model)
    records, origin = [], {}
    for doc in docs:
        for record in chunk_records(doc.id, doc.text, doc.metadata, tokenizer, pages=doc.pages,
                                    sections=doc.sections, source=doc.source, chunk_tokens=chunk_tokens,
                                    overlap=overlap):
            if record.id in origin:
                raise EmbkitError(f"{doc.where}: duplicate id {record.id!r} (also at {origin[record.id]})")
            origin[record.id] = doc.where
            records.append(record)
    return records


def _truncated(model: str, docs: Sequence[SourceDocument], limit: int | None) -> list[str]:
    """chunk=False: the line naming the texts the model reads only the start of."""
    if not limit:
        return []
    tokenizer = encoder_tokenizer(model)
    long = [d.id for d in docs if len(tokenizer.encode(d.text).ids) > limit]
    if not long:
        return []
    return [f"texts: {len(long)} text(s) longer than model {model!r} reads ({limit} tokens) stored whole "
            f"with chunk=False; only their start is embedded (first: {long[0]!r})"]
