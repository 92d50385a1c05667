"""The command line: parses, calls the library, prints. Errors are one line on stderr;
exit 0 on success, 1 on bad input or failure, 2 on a usage error."""

import json
import sqlite3
import sys
import time
import uuid
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from . import __version__
from .collection import create, open as open_collection
from .encoders import CATALOG, DEFAULT_MODEL, load_encoder
from .errors import EmbkitError
from .ingest import read_source
from .search import METRICS, top_k
from .store import parse_where

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="embkit: embed, store and search text by meaning, offline.")

DirArg = typer.Argument(..., help="Collection folder.")
JsonOpt = typer.Option(False, "--json", help="Machine-readable output.")
WhereOpt = typer.Option(None, "--where", help='Metadata filter as JSON, e.g. \'{"year": {"$gte": 2020}}\'.')


def _print_json(obj) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, default=_json_default))


def _json_default(x):
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"cannot serialize {type(x).__name__}")


def _where(text: Optional[str]) -> Optional[dict]:
    return parse_where(text) if text is not None else None


@app.command()
def init(path: Path = DirArg,
         model: str = typer.Option(DEFAULT_MODEL, help="Catalog name (see `embkit models`) or a model folder."),
         metric: str = typer.Option("cosine", help=f"One of {', '.join(METRICS)}."),
         as_json: bool = JsonOpt) -> None:
    """Create an empty collection in PATH."""
    with create(path, model=model, metric=metric) as col:
        info = col.info()
    if as_json:
        _print_json(info)
    else:
        typer.echo(f"created {path} (model {info['model']}, {info['dim']}-d, {info['metric']})")


@app.command()
def add(path: Path = DirArg,
        files: list[str] = typer.Argument(..., help="jsonl, csv, txt or md files; '-' reads jsonl from stdin."),
        text_column: str = typer.Option("text", help="Field or column holding the text."),
        id_column: str = typer.Option("id", help="Field or column holding the id (optional in the data)."),
        upsert: bool = typer.Option(False, "--upsert", help="Replace documents whose id exists."),
        batch_size: int = typer.Option(32, min=1, max=4096, help="Texts per model batch."),
        as_json: bool = JsonOpt) -> None:
    """Embed and store documents. Every file is read and checked before anything is
    written, and all of them land in one transaction: all or nothing."""
    with open_collection(path) as col:  # a missing collection fails before any file is read
        ids, texts, metas = _read_all(files, text_column, id_column)
        start = time.perf_counter()
        with _progress(len(texts), "embedding", quiet=as_json) as advance:
            write = col.upsert if upsert else col.add
            write(texts, ids=ids, metadatas=metas, batch_size=batch_size, progress=advance)
        total = col.count()
    elapsed = time.perf_counter() - start
    summary = {"added": len(texts), "files": len(files), "seconds": round(elapsed, 3),
               "docs_per_second": round(len(texts) / elapsed, 1), "count": total}
    if as_json:
        _print_json(summary)
    else:
        typer.echo(f"{'upserted' if upsert else 'added'} {len(texts)} documents from {len(files)} file(s) "
                   f"in {elapsed:.1f}s ({summary['docs_per_second']} docs/s); collection holds {total}")


def _read_all(files: list[str], text_column: str, id_column: str) -> tuple[list, list, list]:
    """(ids, texts, metadatas) of every file, checked; ids unique across files."""
    ids, texts, metas, origin = [], [], [], {}
    for batch in (read_source(f, text_column, id_column) for f in files):
        for i, doc_id in enumerate(batch.ids):
            doc_id = doc_id or uuid.uuid4().hex
            if doc_id in origin:
                raise EmbkitError(f"{batch.where(i)}: duplicate id {doc_id!r} (also at {origin[doc_id]})")
            origin[doc_id] = batch.where(i)
            ids.append(doc_id)
        texts += batch.texts
        metas += batch.metadatas
    if not texts:
        raise EmbkitError(f"files: no documents found in {', '.join(files)}")
    return ids, texts, metas


class _progress:
    """A rich progress bar on stderr that the encoder advances batch by batch. It
    appears with the first finished batch, so input rejected up front draws nothing."""

    def __init__(self, total: int, label: str, quiet: bool = False):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                             console=Console(stderr=True), disable=quiet)
        self._task = self._bar.add_task("", total=total, start=False)
        self._started = False

    def advance(self, n: int) -> None:
        if not self._started:
            self._started = True
            self._bar.start()
            self._bar.start_task(self._task)
        self._bar.advance(self._task, n)

    def __enter__(self):
        return self.advance

    def __exit__(self, *exc) -> None:
        if self._started:
            self._bar.stop()


@app.command()
def search(path: Path = DirArg,
           query: Optional[str] = typer.Argument(None, help="What to look for, in words."),
           k: int = typer.Option(10, "-k", "--k", help="Number of results."),
           where: Optional[str] = WhereOpt,
           like: Optional[str] = typer.Option(None, "--like", help="Find documents like the one with this id."),
           ef: Optional[int] = typer.Option(None, "--ef", help="HNSW search beam for this query."),
           nprobe: Optional[int] = typer.Option(None, "--nprobe", help="IVF lists to visit for this query."),
           rescore: Optional[int] = typer.Option(None, "--rescore", help="Quantized indexes: candidates per result to rerank exactly."),
           as_json: bool = JsonOpt) -> None:
    """Search by meaning: a query text, or --like ID."""
    where_dict = _where(where)
    with open_collection(path) as col:
        with _progress(col.count(), "updating index", quiet=as_json) as advance:
            col.refresh_index(progress=advance)
        hits = col.search(query, k=k, where=where_dict, like=like, ef=ef, nprobe=nprobe, rescore=rescore)
    if as_json:
        _print_json({"results": [h.to_dict() for h in hits]})
        return
    if not hits:
        typer.echo("no results")
    for rank, hit in enumerate(hits, start=1):
        snippet = " ".join((hit.text or "").split())
        snippet = snippet[:117] + "..." if len(snippet) > 120 else snippet
        meta = f"  {json.dumps(hit.metadata, ensure_ascii=False)}" if hit.metadata else ""
        typer.echo(f"{rank:>3}. {hit.score:.4f}  {hit.id}{meta}\n     {snippet}")


@app.command()
def get(path: Path = DirArg,
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
def delete(path: Path = DirArg,
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
def index(path: Path = DirArg,
          spec: str = typer.Option("auto", "--spec", help="flat | hnsw:M=32,efc=200,ef=64 | ivf:nlist=1024,nprobe=16 | "
                                   "ivfpq:nlist=1024,m=48,nbits=8,nprobe=16 | sq8 | binary | auto"),
          memory_budget: Optional[str] = typer.Option(None, "--memory-budget", help="With auto: fit the index in this much, e.g. 512MB."),
          as_json: bool = JsonOpt) -> None:
    """Choose and build the collection's vector index (rebuilt from the store)."""
    with open_collection(path) as col:
        start = time.perf_counter()
        with _progress(col.count(), "indexing", quiet=as_json) as advance:
            data = col.build_index(spec, memory_budget=memory_budget, progress=advance)
        data["seconds"] = round(time.perf_counter() - start, 3)
    if as_json:
        _print_json(data)
    else:
        typer.echo(f"built {data['spec']} index in {data['seconds']:.1f}s ({data['bytes']} bytes on disk)")


@app.command()
def info(path: Path = DirArg, as_json: bool = JsonOpt) -> None:
    """Count, model, metric, index and size on disk."""
    with open_collection(path) as col:
        data = col.info()
    if as_json:
        _print_json(data)
        return
    for key in ("path", "count", "model", "dim", "metric", "bytes", "generation", "schema_version"):
        typer.echo(f"{key:>15}: {data[key]}")
    ix = data["index"]
    state = "current" if ix["current"] else "stale (rebuilt or caught up at the next search)"
    typer.echo(f"{'index':>15}: {ix['spec']} ({ix['configured']}), {ix['bytes']} bytes, {state}")


@app.command()
def embed(texts: list[str] = typer.Argument(..., help="Texts to embed."),
          model: str = typer.Option(DEFAULT_MODEL, help="Catalog name or model folder."),
          collection: Optional[Path] = typer.Option(None, help="Use this collection's model instead."),
          fmt: str = typer.Option("json", "--format", help="json or npy."),
          output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write here instead of stdout.")) -> None:
    """Print the vectors of TEXTS (json) or write them as a .npy array."""
    if fmt not in ("json", "npy"):
        raise EmbkitError(f"format: unknown {fmt!r} (allowed: json, npy)")
    if collection is not None:
        with open_collection(collection) as col:
            vectors, name = col.embed(texts), col.space.model
    else:
        from .validate import check_texts

        encoder = load_encoder(model)
        vectors, name = encoder.encode(check_texts(texts)), encoder.name
    if fmt == "npy":
        target = open(output, "wb") if output else sys.stdout.buffer  # noqa: SIM115
        np.save(target, vectors)
        if output:
            target.close()
        return
    text = json.dumps({"model": name, "dim": int(vectors.shape[1]), "vectors": vectors.tolist()})
    if output:
        output.write_text(text + "\n")
    else:
        typer.echo(text)


@app.command()
def similarity(a: str = typer.Argument(..., help="First text."), b: str = typer.Argument(..., help="Second text."),
               model: str = typer.Option(DEFAULT_MODEL, help="Catalog name or model folder."),
               metric: str = typer.Option("cosine", help=f"One of {', '.join(METRICS)}."),
               as_json: bool = JsonOpt) -> None:
    """How close two texts are in meaning (cosine by default; l2 is negated distance)."""
    from .encoders.base import l2_normalize
    from .validate import check_texts

    if metric not in METRICS:
        raise EmbkitError(f"metric: unknown {metric!r} (allowed: {', '.join(METRICS)})")
    vectors = load_encoder(model).encode(check_texts([a, b]))
    if metric == "cosine":
        vectors = l2_normalize(vectors)
    _, scores = top_k(vectors[:1], vectors[1:], 1, metric)
    score = float(scores[0, 0])
    if as_json:
        _print_json({"metric": metric, "score": score, "model": model})
    else:
        typer.echo(f"{score:.4f}")


@app.command()
def models(as_json: bool = JsonOpt) -> None:
    """Every catalog model: dimension, backend, licence, and whether it is installed."""
    rows = [{"name": e.name, "dim": e.dim, "backend": e.backend, "licence": e.licence,
             "installed": e.installed, "package": e.package, "install": e.install,
             "description": e.description} for e in CATALOG.values()]
    if as_json:
        _print_json({"models": rows})
        return
    typer.echo(f"{'name':<14}{'dim':>5}  {'backend':<10}{'licence':<12}{'installed':<10}description")
    for r in rows:
        status = "yes" if r["installed"] else "no"
        typer.echo(f"{r['name']:<14}{r['dim']:>5}  {r['backend']:<10}{r['licence']:<12}{status:<10}{r['description']}")
        if not r["installed"]:
            typer.echo(f"{'':<14}       get it with: {r['install']}")


@app.command()
def version() -> None:
    """Print embkit's version."""
    typer.echo(__version__)


def main() -> None:
    """Entry point: one-line errors, exit 1 for bad input or failure."""
    try:
        app()
    except EmbkitError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(1)
    except (sqlite3.Error, OSError) as e:
        typer.echo(f"error: {type(e).__name__}: {e}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
