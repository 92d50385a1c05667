"""Bulk-load a folder of embedded shards (from `embkit ingest-distributed` or
`ingest_local`) into a collection without embedding again. Works with any collection
`embkit.open` returns (a folder, or PostgreSQL), through the Collection API only."""

import time
import warnings
from pathlib import Path
from typing import Callable

from ..errors import EmbkitError, EmbkitWarning
from .shards import MANIFEST, Manifest, read_shard

IMPORT_BATCH = 5_000


def import_shards(col, vectors_dir: str | Path, *, upsert: bool = False, batch_size: int = IMPORT_BATCH,
                  progress: Callable[[int], None] | None = None) -> dict:
    """Add every finished shard of `vectors_dir` to `col`, `batch_size` rows a
    transaction. Everything is read and checked first (the manifest's model and
    dimension against the collection's space, each shard's columns, ids unique, ids not
    in the collection unless `upsert`), so a bad shard or a taken id changes nothing."""
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
    entries = sorted(manifest.shards.values(), key=lambda e: e["output"])
    started = time.perf_counter()
    ids = _check_all(folder, entries, dim)
    if not upsert:
        _refuse_taken(col, ids)
    write = col.upsert if upsert else col.add
    for entry in entries:
        rows = read_shard(folder / entry["output"], dim)
        for start in range(0, len(rows.ids), batch_size):
            end = start + batch_size
            write(rows.texts[start:end], ids=rows.ids[start:end], metadatas=rows.metadatas[start:end],
                  vectors=rows.vectors[start:end], model=model)
            if progress:
                progress(len(rows.ids[start:end]))
    if upsert:
        _drop_stale_chunks(col, ids)
    return {"shards": len(entries), "rows": len(ids), "count": col.count(), "model": model, "dim": dim,
            "pending": list(manifest.data.get("pending") or []), "seconds": round(time.perf_counter() - started, 3)}


def _check_all(folder: Path, entries: list[dict], dim: int) -> dict[str, dict]:
    """Read every shard once before writing: id -> metadata, across all shards."""
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
    return ids


def _refuse_taken(col, ids: dict[str, dict]) -> None:
    order = list(ids)
    for start in range(0, len(order), IMPORT_BATCH):
        taken = col.get(order[start:start + IMPORT_BATCH])
        if taken:
            raise EmbkitError(f"ids: {taken[0].id!r} (and perhaps more) already in the collection; "
                              "use --upsert to replace them")


def _drop_stale_chunks(col, ids: dict[str, dict]) -> None:
    """After an upsert, what older versions of these documents left behind: chunks
    that no longer exist, or the whole record of a document now split (as `add --upsert`)."""
    parents = sorted({meta.get("parent", doc_id) if isinstance(meta.get("parent"), str) else doc_id
                      for doc_id, meta in ids.items()})
    stale = []
    with warnings.catch_warnings():  # embkit's own filter: that no record has a `parent` yet is no news to the user
        warnings.simplefilter("ignore", EmbkitWarning)
        for start in range(0, len(parents), 1000):  # `$in` lists are capped
            group = parents[start:start + 1000]
            stale += [d.id for d in col.get(where={"parent": {"$in": group}}) if d.id not in ids]
            stale += [d.id for d in col.get([g for g in group if g not in ids])]
    if stale:
        col.delete(stale)
