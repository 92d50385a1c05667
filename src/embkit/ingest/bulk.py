"""Bulk-load a folder of embedded shards (from `embkit ingest-distributed` or
`ingest_local`) into a collection without embedding again. Works with any collection
`embkit.open` returns (a folder, or PostgreSQL), through the Collection API only."""

import time
from pathlib import Path
from typing import Callable

from .. import validate
from ..errors import EmbkitError
from .records import owned_documents
from .shards import MANIFEST, Manifest, read_shard
from .vectors import stored_form
from .write import refuse_taken

IMPORT_BATCH = 5_000


def import_shards(col, vectors_dir: str | Path, *, upsert: bool = False, batch_size: int = IMPORT_BATCH,
                  progress: Callable[[int], None] | None = None) -> dict:
    """Add every finished shard of `vectors_dir` to `col`, `batch_size` rows a
    transaction. Everything is read and checked first (the manifest's model and
    dimension against the collection's space, each shard's columns, ids unique, ids not
    in the collection unless `upsert`, each row as the add checks it, its vector by the
    write's stored_form), so a bad shard, row or taken id changes nothing."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise EmbkitError(f"batch_size: expected a positive integer, got {batch_size!r}")
    folder = Path(vectors_dir)
    manifest = Manifest.load(folder)
    if manifest is None:
        raise EmbkitError(f"vectors: {folder / MANIFEST} not found (a folder made by `embkit ingest-distributed`)")
    model, dim = manifest.data["model"], manifest.data["dim"]
    space = col.space
    if model != space.model:
        raise EmbkitError(f"model: {folder} holds vectors from {model!r} ({dim}-d); the collection's space "
                          f"{space.name!r} holds {space.model!r} ({space.dim}-d)")
    if dim != space.dim:
        raise EmbkitError(f"dim: {folder} holds {dim}-d vectors; "
                          f"the collection's space {space.name!r} is {space.dim}-d")
    made_with, holds = manifest.data.get("document_prompt", ""), col.document_prompt  # none: made before prompts
    if made_with != holds:
        raise EmbkitError(f"model: {folder} holds vectors embedded with the document prompt {made_with!r}; the "
                          f"collection's space {space.name!r} holds documents embedded with {holds!r}")
    entries = sorted(manifest.shards.values(), key=lambda e: e["output"])
    started = time.perf_counter()
    ids = _check_all(folder, entries, dim, space.metric)
    if not upsert:
        _refuse_taken(col, ids)
    write = col.upsert if upsert else col.add
    for entry in entries:
        rows = read_shard(folder / entry["output"], dim)
        for start, end in _slices(rows.metadatas, batch_size):
            write(rows.texts[start:end], ids=rows.ids[start:end], metadatas=rows.metadatas[start:end],
                  vectors=rows.vectors[start:end], model=model)
            if progress:
                progress(len(rows.ids[start:end]))
    return {"shards": len(entries), "rows": len(ids), "count": col.count(), "model": model, "dim": dim,
            "pending": list(manifest.data.get("pending") or []), "seconds": round(time.perf_counter() - started, 3)}


def _slices(metadatas: list[dict], batch_size: int):
    """(start, end) of about `batch_size` rows a transaction, never cutting through one
    document's chunks: an upsert drops the chunks of its documents that it does not
    write, so a document split across two transactions would lose its first part."""
    start = 0
    while start < len(metadatas):
        end = min(start + batch_size, len(metadatas))
        while end < len(metadatas) and _document(metadatas[end]) is not None \
                and _document(metadatas[end]) == _document(metadatas[end - 1]):
            end += 1
        yield start, end
        start = end


def _document(metadata: dict) -> str | None:
    parent = metadata.get("parent")
    return parent if isinstance(parent, str) else None


def _check_all(folder: Path, entries: list[dict], dim: int, metric: str) -> dict[str, dict]:
    """Read every shard once before writing: id -> metadata, across all shards. One
    shard is held at a time (its vectors are dropped before the next is read)."""
    ids: dict[str, dict] = {}
    origin: dict[str, str] = {}
    for entry in entries:
        path = folder / entry["output"]
        if not path.is_file():
            raise EmbkitError(f"{path}: shard listed in the manifest is missing")
        rows = read_shard(path, dim)
        if len(rows.ids) != entry.get("rows"):
            raise EmbkitError(f"{path}: {len(rows.ids)} rows, the manifest says {entry.get('rows')}")
        for i, (doc_id, meta) in enumerate(zip(rows.ids, rows.metadatas)):
            if not isinstance(doc_id, str) or not doc_id:
                raise EmbkitError(f"{path}: row {i}: empty id")
            if doc_id in ids:
                raise EmbkitError(f"{path}: row {i}: duplicate id {doc_id!r} (also in {origin[doc_id]})")
            ids[doc_id], origin[doc_id] = meta, entry["output"]
        try:  # what each batch's add checks (write.prepare_given), here for all rows: a bad row after the
            # first batch left a part written (a blank or 513-character id, a text past max_document_bytes)
            validate.check_ids(rows.ids, len(rows.ids))
            validate.check_texts(rows.texts, max_chars=None)
            validate.check_documents_bytes(rows.texts, "texts", None)
            validate.check_metadatas(rows.metadatas, len(rows.ids))
            # the write's own vector rule (read_shard refused NaN/inf and another width): a zero row for
            # cosine, an l2/dot row over MAX_LENGTH; the whole shard at once, so the row named is the shard's
            stored_form(rows.vectors, metric, "vectors")
        except EmbkitError as e:
            raise EmbkitError(f"{path}: {e}") from None
    return ids


def _refuse_taken(col, ids: dict[str, dict]) -> None:
    """What each batch's add will refuse (write.refuse_taken: the add's rule and message,
    the option spelt as the command's), for all rows before the first batch is written.
    One col.get a slice, asking for each document and its `ID#0`: it gives the records
    asked for and, for a document stored as chunks, its chunks. `ID#0` is asked by itself
    too: a record of that id that is no chunk (no `parent`) is refused by the add as well,
    and found by parent only, it let the rows before it land. The ID#0s nobody holds cost
    col.get a second metadata pass per 1,000 (records_of looks for their chunks)."""
    order = list(ids)
    for start in range(0, len(order), IMPORT_BATCH):
        batch = order[start:start + IMPORT_BATCH]
        documents = list(dict.fromkeys([*batch, *owned_documents(batch, [ids[i] for i in batch])]))
        held = {doc.id for doc in col.get(list(dict.fromkeys([*documents, *(f"{d}#0" for d in documents)])))}
        refuse_taken(held.intersection, documents, batch, upsert="--upsert")
