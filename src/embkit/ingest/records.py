"""What the write path hands from one stage to the next (see write.py): a document as
read, a batch of records ready to embed, and what a write did. Warnings travel as values
(never through the `warnings` module), so a threaded server returns each request its own."""

from typing import NamedTuple, Sequence

from ..store.types import part_of

# Metadata the write path keeps on every chunk to place it (chunk.py, sync.py): overwrite
# `parent` and a document's chunks no longer belong to it; `source` and `sha256` are how
# sync knows a file's documents. Analysis verbs must not write their results there.
PLACE_FIELDS = ("parent", "chunk", "start", "end", "page", "section", "source", "sha256")


class SourceDocument(NamedTuple):
    """A document before chunking: its id, visible text and metadata, with where it came
    from (`where`: file:line for error messages) and, from a reader, its pages and
    sections (character offsets) for the chunker."""

    id: str
    text: str
    metadata: dict
    pages: list[tuple[int, int]] | None = None
    sections: list[tuple[int, str]] | None = None
    source: str | None = None
    where: str = ""


class Prepared(NamedTuple):
    """A batch ready to embed: `documents` (one id per document given, what the caller
    sees) and the records to store (a document that fits is one record with its own id,
    a longer one its chunks `ID#i`; every record's metadata `parent` names its document).
    `warnings`: lines for the user (a text stored whole that the model truncates)."""

    documents: list[str]
    ids: list[str]
    texts: list[str] | None
    metadatas: list[dict]
    warnings: list[str] = []


class Written(NamedTuple):
    """What a write did: document ids (one per document given), record ids written (one
    per chunk) and the warnings the caller should show (CLI stderr, HTTP `warnings`,
    Python EmbkitWarning)."""

    documents: list[str]
    ids: list[str]
    warnings: list[str] = []


def document_of(record_id: str, metadata: dict | None) -> str:
    """The document a record belongs to: its string metadata `parent`, else itself (a
    record written before every record carried one)."""
    parent = metadata.get("parent") if isinstance(metadata, dict) else None
    return parent if isinstance(parent, str) else record_id


def documents_of(ids: Sequence[str], metadatas: Sequence[dict]) -> list[str]:
    """The documents of records, each once, in order of their first record."""
    return list(dict.fromkeys(document_of(i, m) for i, m in zip(ids, metadatas)))


def chunk_number(metadata: dict) -> int:
    """A chunk's position in its document (metadata `chunk`; 0 when absent or not a whole number)."""
    number = metadata.get("chunk")
    return number if isinstance(number, int) and not isinstance(number, bool) else 0


def owned_documents(ids: Sequence[str], metadatas: Sequence[dict]) -> list[str]:
    """The documents a write replaces or refuses to duplicate, each once, in order: a
    record's `parent` where the record is that document or one of its chunks
    (store.types.part_of), else the record itself. A `parent` a client wrote on a
    record of another id is kept as metadata but owns nothing."""
    owners = []
    for record_id, metadata in zip(ids, metadatas):
        parent = metadata.get("parent")
        owners.append(parent if isinstance(parent, str) and part_of(record_id, parent, parent) else record_id)
    return list(dict.fromkeys(owners))
