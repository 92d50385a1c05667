"""Commands that write and read documents: init, add, get, delete, info."""

import json
from typing import Optional

import typer

from ..collection import create, open as open_collection
from ..encoders import DEFAULT_MODEL
from ..errors import EmbkitError
from ..ingest.add_files import add_files
from ..ingest.skips import AUDIO, NOT_AUDIO, NOT_IMAGE, summary as skip_summary
from ..maintenance.sizes import human, size_line
from ..search import METRICS
from ..validate import MAX_DOCUMENT_BYTES
from .common import DirArg, JsonOpt, WhereOpt, _json_default, _print_json, _progress, _where, app


@app.command()
def init(path: str = DirArg,
         model: str = typer.Option(DEFAULT_MODEL, help="Catalog name (see `embkit models`) or a model folder."),
         metric: str = typer.Option("cosine", help=f"One of {', '.join(METRICS)}."),
         image_model: Optional[str] = typer.Option(None, "--image-model", help="Also an `image` space, embedded by "
                                                   "this image tower (a CLIP folder, or FOLDER#image)."),
         audio_model: Optional[str] = typer.Option(None, "--audio-model", help="Also an `audio` space, embedded by "
                                                   "this audio tower (a CLAP folder, or FOLDER#audio)."),
         as_json: bool = JsonOpt) -> None:
    """Create an empty collection in PATH. An image tower as --model (FOLDER#image)
    makes an image collection, an audio tower (FOLDER#audio) an audio one; --image-model
    and --audio-model add an image and an audio space beside the text one."""
    with create(path, model=model, metric=metric, image_model=image_model, audio_model=audio_model) as col:
        info = col.info()
    if as_json:
        _print_json(info)
    else:
        spaces = ", ".join(f"{name}: {s['model']}, {s['dim']}-d" for name, s in info["spaces"].items())
        typer.echo(f"created {info['path']} ({spaces}; {info['metric']})")  # no password


@app.command()
def add(path: str = DirArg,
        files: list[str] = typer.Argument(..., help="Files or folders (walked recursively): jsonl, csv, parquet, "
                                          "txt, md, html, pdf, images; '-' reads jsonl from stdin."),
        include: Optional[list[str]] = typer.Option(None, "--include", help="In folders, take only files matching "
                                                    "this glob (repeatable), on their path inside the folder or "
                                                    "any name on it: '*.md', 'guide/*', 'docs/**/*.md'."),
        exclude: Optional[list[str]] = typer.Option(None, "--exclude", help="In folders, leave out files matching "
                                                    "this glob (repeatable; same matching as --include)."),
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
        audio_model: Optional[str] = typer.Option(None, "--audio-model", help="Sounds: create the collection's "
                                                  "`audio` space with this audio tower (a CLAP folder) if it has "
                                                  "none."),
        max_document_bytes: int = typer.Option(MAX_DOCUMENT_BYTES, "--max-document-bytes",
                                               help="Largest document (UTF-8 bytes of text); a larger one "
                                               "rejects the batch before anything is embedded."),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="List every skipped file and why."),
        no_cache: bool = typer.Option(False, "--no-cache", help="Embed every text again instead of taking the "
                                      "vectors of texts embedded before from the embedding cache."),
        as_json: bool = JsonOpt) -> None:
    """Embed and store documents. Every file is read and checked before anything is
    written, and all of them land in one transaction. Documents longer than the model
    reads are split into chunks `ID#0`, `ID#1`, ... (metadata parent, chunk, start, end,
    page, source). Images (png, jpg, webp) go to the `image` space, one document each
    (id: the path). In a folder, files the collection cannot take (images without an
    image space, unknown formats, unreadable files) are skipped with one summary warning
    and the exit code is 3; a bad record in any file rejects everything (exit 1)."""
    with open_collection(path) as col:  # a missing collection fails before any file is read
        col.cache_embeddings = not no_cache
        done = add_files(col, files, include=include, exclude=exclude, text_column=text_column,
                         id_column=id_column, upsert=upsert, batch_size=batch_size, chunk=not no_chunk,
                         chunk_tokens=chunk_tokens, overlap=overlap, image_model=image_model,
                         audio_model=audio_model, max_document_bytes=max_document_bytes,
                         bars=lambda n, label: _progress(n, label, quiet=as_json))
        total = col.count()
    for line in done.warnings:
        typer.echo(f"warning: {line}", err=True)
    summaries = {}
    if done.images:
        summaries["images"] = _image_summary(done.images, total, upsert, as_json)
    if done.audio:
        summaries["audio"] = _audio_summary(done.audio, total, upsert, as_json)
    if done.texts:
        summaries["texts"] = _text_summary(done.texts, total, upsert, as_json)
    for part in summaries.values():
        part["skipped"] = []
    for s in done.skipped:  # each file once, in the summary of the path it came through (or the only one)
        own = "images" if s.kind == NOT_IMAGE or (done.images and s in done.images.skipped) else \
            "audio" if s.kind in (AUDIO, NOT_AUDIO) or (done.audio and s in done.audio.skipped) else "texts"
        part = summaries.get(own) or next(iter(summaries.values()))
        part["skipped"].append({"file": s.path, "reason": s.reason, "kind": s.kind})
    if as_json:
        _print_json(next(iter(summaries.values())) if len(summaries) == 1 else summaries)
    if done.skipped:
        if verbose:
            for s in done.skipped:
                typer.echo(f"warning: skipped {s.path}: {s.reason}", err=True)
        typer.echo(f"warning: {skip_summary(done.skipped, verbose)}", err=True)
        raise typer.Exit(3)  # partial: what could be taken landed


def _image_summary(images, total: int, upsert: bool, as_json: bool) -> dict:
    """Prints the image line unless --json; returns the image part of the JSON summary."""
    if not as_json:
        typer.echo(f"{'upserted' if upsert else 'added'} {len(images.ids)} image(s) in {images.seconds:.1f}s; "
                   f"collection holds {total}")
    return {"added": len(images.ids), "images": len(images.ids), "seconds": round(images.seconds, 3),
            "count": total}


def _audio_summary(audio, total: int, upsert: bool, as_json: bool) -> dict:
    """Prints the audio line unless --json; returns the audio part of the JSON summary."""
    if not as_json:
        typer.echo(f"{'upserted' if upsert else 'added'} {len(audio.ids)} audio file(s) in {audio.seconds:.1f}s; "
                   f"collection holds {total}")
    return {"added": len(audio.ids), "audio": len(audio.ids), "seconds": round(audio.seconds, 3), "count": total}


def _text_summary(texts, total: int, upsert: bool, as_json: bool) -> dict:
    """Prints the text line unless --json; returns the text part of the JSON summary."""
    n, elapsed = len(texts.ids), max(texts.seconds, 1e-9)
    summary = {"added": n, "documents": texts.documents, "chunks": n, "files": texts.files,
               "seconds": round(texts.seconds, 3), "documents_per_second": round(texts.documents / elapsed, 1),
               "chunks_per_second": round(n / elapsed, 1), "count": total}
    if not as_json:  # the speed in documents (what the user gave) and in chunks (what the model read)
        split = f" as {n} chunks" if n != texts.documents else ""
        typer.echo(f"{'upserted' if upsert else 'added'} {texts.documents} documents{split} from {texts.files} "
                   f"file(s) in {texts.seconds:.1f}s ({summary['documents_per_second']} documents/s, "
                   f"{summary['chunks_per_second']} chunks/s); collection holds {total}")
    return summary


@app.command()
def get(path: str = DirArg,
        ids: Optional[list[str]] = typer.Argument(None, help="Ids to fetch (or use --where)."),
        where: Optional[str] = WhereOpt,
        limit: Optional[int] = typer.Option(None, min=1, help="At most this many (with --where)."),
        vectors: bool = typer.Option(False, "--vectors", help="Include the vectors."),
        as_json: bool = JsonOpt) -> None:
    """Show stored documents by id or by filter (a document stored as chunks: its
    chunks, in order)."""
    where_dict = _where(where)
    if not ids and where_dict is None:
        raise EmbkitError("ids: give one or more ids, or --where")
    with open_collection(path) as col:
        docs = col.get(ids or None, where=where_dict, limit=limit, include_vectors=vectors)
    if ids:  # a document id stored as chunks is found through their `parent`
        found = {d.id for d in docs} | {d.metadata.get("parent") for d in docs}
        missing = [i for i in ids if i not in found]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise EmbkitError(f"ids: no document with id {missing[0]!r}{more}")
    rows = [{"id": d.id, "text": d.text, "metadata": d.metadata, **({"vector": d.vector} if vectors else {})}
            for d in docs]
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
    """Delete documents by id or by filter, in one transaction (a document id: all its
    chunks; a chunk id: that chunk)."""
    where_dict = _where(where)
    if not ids and where_dict is None:
        raise EmbkitError("ids: give one or more ids, or --where")
    with open_collection(path) as col:
        deleted = col.remove(ids or None, where=where_dict)
        total = col.count()
    for line in deleted.warnings:  # remove gives the filter's warnings as values
        typer.echo(f"warning: {line}", err=True)
    if as_json:
        _print_json({"deleted": deleted.chunks, "documents": deleted.documents, "count": total})
    else:
        split = f" ({deleted.chunks} chunks)" if deleted.chunks != deleted.documents else ""
        typer.echo(f"deleted {deleted.documents} document(s){split}; collection holds {total}")


@app.command()
def info(path: str = DirArg, as_json: bool = JsonOpt) -> None:
    """Count, model, metric, index and size on disk."""
    with open_collection(path) as col:
        data = col.info()
    if as_json:
        _print_json(data)
        return
    for key in ("path", "count", "documents", "chunks", "model", "dim", "metric", "generation", "schema_version"):
        typer.echo(f"{key:>15}: {data[key]}")
    typer.echo(f"{'size':>15}: {size_line(data['sizes'])}")
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
    # a FAISS index's bytes are those it holds in memory (the size line has what it keeps on disk); pgvector's
    # are its relation's, in the database
    where = "in the database" if data["backend"] == "postgresql" else "in memory"
    typer.echo(f"{'index':>15}: {ix['spec']} ({ix['configured']}), {human(ix['bytes'])} {where}, {state}")
