"""Commands that write and read documents: init, add, get, delete, info."""

import json
import time
import uuid
from typing import Optional

import typer

from ..collection import create, open as open_collection
from ..encoders import DEFAULT_MODEL
from ..errors import EmbkitError
from ..ingest import check_chunking, read_paths, reads_whole_texts
from ..ingest.images import IMAGE_SUFFIXES, split_paths, walk_files
from ..search import METRICS
from .. import validate
from ..validate import MAX_DOCUMENT_BYTES, check_max_document_bytes
from .common import DirArg, JsonOpt, WhereOpt, _json_default, _print_json, _progress, _where, app
from .images import add_image_files


@app.command()
def init(path: str = DirArg,
         model: str = typer.Option(DEFAULT_MODEL, help="Catalog name (see `embkit models`) or a model folder."),
         metric: str = typer.Option("cosine", help=f"One of {', '.join(METRICS)}."),
         image_model: Optional[str] = typer.Option(None, "--image-model", help="Also an `image` space, embedded by "
                                                   "this image tower (a CLIP folder, or FOLDER#image)."),
         as_json: bool = JsonOpt) -> None:
    """Create an empty collection in PATH. An image tower as --model (FOLDER#image)
    makes an image collection; --image-model adds an image space beside the text one."""
    with create(path, model=model, metric=metric, image_model=image_model) as col:
        info = col.info()
    if as_json:
        _print_json(info)
    else:
        spaces = ", ".join(f"{name}: {s['model']}, {s['dim']}-d" for name, s in info["spaces"].items())
        typer.echo(f"created {info['path']} ({spaces}; {info['metric']})")  # no password


@app.command()
def add(path: str = DirArg,
        files: list[str] = typer.Argument(..., help="Files or folders (walked recursively): jsonl, csv, parquet, "
                                          "txt, md, html, pdf; '-' reads jsonl from stdin."),
        text_column: str = typer.Option("text", help="Field or column holding the text (jsonl, csv, parquet)."),
        id_column: str = typer.Option("id", help="Field or column holding the id (optional in the data)."),
        upsert: bool = typer.Option(False, "--upsert", help="Replace documents whose id exists."),
        batch_size: int = typer.Option(32, min=1, max=4096, help="Texts per model batch."),
        chunk_tokens: int = typer.Option(256, "--chunk-tokens", help="Longest chunk, in the model's tokens "
                                         "including [CLS]/[SEP]; longer documents are split."),
        overlap: int = typer.Option(32, "--overlap", help="Tokens consecutive chunks share."),
        no_chunk: bool = typer.Option(False, "--no-chunk", help="Store every document whole (the model reads "
                                      "only its first tokens)."),
        image_model: Optional[str] = typer.Option(None, "--image-model", help="Images: create the collection's "
                                                  "`image` space with this image tower if it has none."),
        max_document_bytes: int = typer.Option(MAX_DOCUMENT_BYTES, "--max-document-bytes",
                                               help="Largest document (UTF-8 bytes of text); a larger one "
                                               "rejects the batch before anything is embedded."),
        as_json: bool = JsonOpt) -> None:
    """Embed and store documents. Every file is read and checked before anything is
    written, and all of them land in one transaction. Documents longer than the model
    reads are split into chunks `ID#0`, `ID#1`, ... (metadata parent, chunk, start, end,
    page, source). In a folder, a file that cannot be read is skipped with a warning and
    the exit code is 3; a bad record in any file rejects everything (exit 1). Images
    (png, jpg, webp) go to the `image` space, one document each (id: the path)."""
    if not no_chunk:
        check_chunking(chunk_tokens, overlap)
    check_max_document_bytes(max_document_bytes)
    image_paths, text_paths = split_paths(files)
    summaries = {}
    if image_paths:
        summaries["images"] = add_image_files(path, image_paths, upsert, image_model, as_json)
        if not summaries["images"]["text_space"]:  # an image collection: other files have nowhere to go
            for other in walk_files(text_paths):
                typer.echo(f"warning: skipped {other}: not an image (the collection holds images only)", err=True)
                summaries["images"]["skipped"].append({"file": other, "reason": "not an image"})
            text_paths = []
    if text_paths:
        summaries["texts"] = _add_texts(path, text_paths, text_column, id_column, upsert, batch_size, chunk_tokens,
                                        overlap, no_chunk, as_json, max_document_bytes)
    if as_json:
        _print_json(next(iter(summaries.values())) if len(summaries) == 1 else summaries)
    if any(s["skipped"] for s in summaries.values()):
        raise typer.Exit(3)  # partial: the readable files landed


def _add_texts(path, files, text_column, id_column, upsert, batch_size, chunk_tokens, overlap, no_chunk,
               as_json, max_document_bytes=MAX_DOCUMENT_BYTES) -> dict:
    """Read, chunk, embed and store text files; prints the summary unless --json, returns it."""
    with open_collection(path) as col:  # a missing collection fails before any file is read
        batches, skipped = read_paths(files, text_column, id_column, exclude=IMAGE_SUFFIXES)
        for s in skipped:
            typer.echo(f"warning: skipped {s.path}: {s.reason}", err=True)
        docs = _read_all(batches, files, len(skipped), max_document_bytes)
        # a model-less collection refuses texts anyway; a word-vector model reads whole texts
        chunking = not no_chunk and col.space.model != "none" and not reads_whole_texts(col.space.model)
        records = _chunk_all(docs, col.space.model, chunk_tokens, overlap) if chunking else \
            [(d[0], d[1], d[2]) for d in docs]
        ids, texts, metas = (list(x) for x in zip(*records))
        start = time.perf_counter()
        with _progress(len(texts), "embedding", quiet=as_json) as advance:
            write = col.upsert if upsert else col.add
            write(texts, ids=ids, metadatas=metas, batch_size=batch_size, progress=advance,
                  max_document_bytes=max_document_bytes)
        if upsert and chunking:
            _drop_stale_chunks(col, [d[0] for d in docs], set(ids))
        total = col.count()
    elapsed = time.perf_counter() - start
    summary = {"added": len(texts), "documents": len(docs), "chunks": len(texts), "files": len(batches),
               "skipped": [{"file": s.path, "reason": s.reason} for s in skipped], "seconds": round(elapsed, 3),
               "docs_per_second": round(len(texts) / elapsed, 1), "count": total}
    if not as_json:
        split = f" as {len(texts)} chunks" if len(texts) != len(docs) else ""
        typer.echo(f"{'upserted' if upsert else 'added'} {len(docs)} documents{split} from {len(batches)} file(s) "
                   f"in {elapsed:.1f}s ({summary['docs_per_second']} docs/s); collection holds {total}"
                   + (f"; skipped {len(skipped)} file(s) that could not be read" if skipped else ""))
    return summary


def _read_all(batches: list, files: list[str], skipped: int, max_document_bytes: int) -> list[tuple]:
    """(id, text, metadata, pages, source, where) of every document; ids unique across files.
    Each document's size, Unicode and metadata are checked here, naming file:line, before
    any is chunked (a 10 MB line would otherwise become thousands of chunks to embed)."""
    docs, origin = [], {}
    for batch in batches:
        for i, doc_id in enumerate(batch.ids):
            where = batch.where(i)
            validate.check_document_bytes(batch.texts[i], where, max_document_bytes)
            validate.check_unicode(batch.texts[i], where)
            validate.check_tree(batch.metadatas[i], f"{where}: metadata")
            if doc_id is not None:
                validate.check_unicode(doc_id, f"{where}: id")
            doc_id = doc_id or uuid.uuid4().hex
            if doc_id in origin:
                raise EmbkitError(f"{batch.where(i)}: duplicate id {doc_id!r} (also at {origin[doc_id]})")
            origin[doc_id] = batch.where(i)
            docs.append((doc_id, batch.texts[i], batch.metadatas[i], batch.pages[i], batch.source, batch.where(i)))
    if not docs:
        note = f" ({skipped} file(s) skipped)" if skipped else ""
        raise EmbkitError(f"files: no documents found in {', '.join(files)}{note}")
    return docs


def _chunk_all(docs: list[tuple], model: str, chunk_tokens: int, overlap: int) -> list[tuple]:
    """(id, text, metadata) records: documents that fit as they are, longer ones as chunks."""
    from ..ingest import chunk_records, encoder_tokenizer, model_max_tokens

    limit = model_max_tokens(model)
    if limit is not None and chunk_tokens > limit:
        raise EmbkitError(f"chunk_tokens: {chunk_tokens} is more than model {model!r} reads ({limit} tokens); "
                          f"use --chunk-tokens {limit} or less")
    tokenizer = encoder_tokenizer(model)
    records, origin = [], {}
    for doc_id, text, metadata, pages, source, where in docs:
        for record in chunk_records(doc_id, text, metadata, tokenizer, pages=pages, source=source,
                                    chunk_tokens=chunk_tokens, overlap=overlap):
            if record.id in origin:  # a chunk id such as `a#0` can meet a document's own id
                raise EmbkitError(f"{where}: duplicate id {record.id!r} (also at {origin[record.id]})")
            origin[record.id] = where
            records.append(record)
    return records


def _drop_stale_chunks(col, doc_ids: list[str], kept: set[str]) -> None:
    """After an upsert, remove what an older version of these documents left behind:
    chunks that no longer exist, or the whole record of a document now split. (A second
    transaction: if it fails, the stale records remain, but the new ones are in.)"""
    stale = []
    for i in range(0, len(doc_ids), 1000):  # `$in` lists are capped
        group = doc_ids[i:i + 1000]
        stale += [d.id for d in col.get(where={"parent": {"$in": group}}) if d.id not in kept]
        stale += [d.id for d in col.get([g for g in group if g not in kept])]
    if stale:
        col.delete(stale)


@app.command()
def get(path: str = DirArg,
        ids: Optional[list[str]] = typer.Argument(None, help="Ids to fetch (or use --where)."),
        where: Optional[str] = WhereOpt,
        limit: Optional[int] = typer.Option(None, min=1, help="At most this many (with --where)."),
        vectors: bool = typer.Option(False, "--vectors", help="Include the vectors."),
        as_json: bool = JsonOpt) -> None:
    """Show stored documents by id or by filter."""
    where_dict = _where(where)
    if not ids and where_dict is None:
        raise EmbkitError("ids: give one or more ids, or --where")
    with open_collection(path) as col:
        docs = col.get(ids or None, where=where_dict, limit=limit, include_vectors=vectors)
    if ids:
        missing = [i for i in ids if i not in {d.id for d in docs}]
        if missing:
            raise EmbkitError(f"ids: no document with id {missing[0]!r}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    rows = [{"id": d.id, "text": d.text, "metadata": d.metadata, **({"vector": d.vector} if vectors else {})} for d in docs]
    if as_json:
        _print_json({"documents": rows})
    else:
        for row in rows:
            typer.echo(json.dumps(row, ensure_ascii=False, default=_json_default))


@app.command()
def delete(path: str = DirArg,
           ids: Optional[list[str]] = typer.Argument(None, help="Ids to delete (or use --where)."),
           where: Optional[str] = WhereOpt,
           as_json: bool = JsonOpt) -> None:
    """Delete documents by id or by filter, in one transaction."""
    where_dict = _where(where)
    if not ids and where_dict is None:
        raise EmbkitError("ids: give one or more ids, or --where")
    with open_collection(path) as col:
        deleted = col.delete(ids or None, where=where_dict)
        total = col.count()
    if as_json:
        _print_json({"deleted": deleted, "count": total})
    else:
        typer.echo(f"deleted {deleted} document(s); collection holds {total}")


@app.command()
def info(path: str = DirArg, as_json: bool = JsonOpt) -> None:
    """Count, model, metric, index and size on disk."""
    with open_collection(path) as col:
        data = col.info()
    if as_json:
        _print_json(data)
        return
    for key in ("path", "count", "model", "dim", "metric", "bytes", "generation", "schema_version"):
        typer.echo(f"{key:>15}: {data[key]}")
    if data["read_only"]:
        typer.echo(f"{'read-only':>15}: yes (searches work; writes are refused, caches are not saved)")
    for name, space in data["spaces"].items():
        typer.echo(f"{'space ' + name:>15}: {space['model']}, {space['dim']}-d, {space['metric']}")
    for name, target in data.get("aliases", {}).items():  # left by reembed (see `embkit reembed`)
        typer.echo(f"{'alias ' + name:>15}: -> {target}")
    for source, target in data.get("reembedding", {}).items():
        typer.echo(f"{'reembedding':>15}: {source} -> {target} (unfinished: run `embkit reembed` again)")
    ix = data["index"]
    state = "current" if ix["current"] else "stale (rebuilt or caught up at the next search)"
    typer.echo(f"{'index':>15}: {ix['spec']} ({ix['configured']}), {ix['bytes']} bytes, {state}")
