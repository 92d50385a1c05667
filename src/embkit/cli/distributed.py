"""Commands for bulk work: ingest-distributed (embed shards on Ray, or in this
process) and import (load embedded shards into a collection without re-embedding)."""

from pathlib import Path
from typing import Optional

import typer

from ..collection import open as open_collection
from ..encoders import DEFAULT_MODEL
from ..errors import EmbkitError
from ..ingest.skips import Skipped, summary as skip_summary
from .common import DirArg, JsonOpt, _print_json, _progress, app


@app.command("ingest-distributed")
def ingest_distributed(
        inputs: list[str] = typer.Option(..., "--input", "-i", help="Input shards: a glob ('data/*.parquet', "
                                         "'data/*.parquet|*.jsonl', '**' allowed), a file or a folder; repeatable. "
                                         "Every format `embkit add` reads (one shard a file); images and unknown "
                                         "formats in folders are skipped."),
        output: Path = typer.Option(..., "-o", "--output", help="Folder for the vector shards and manifest.json."),
        address: str = typer.Option("auto", "--address", help="Ray cluster: auto (the running one), host:port, "
                                    "ray://host:port, local (a private Ray on 127.0.0.1), or none (no Ray: this "
                                    "process embeds the shards itself)."),
        text_column: str = typer.Option("text", help="Field or column holding the text."),
        id_column: str = typer.Option("id", help="Field or column holding the id (optional in the data); a "
                                      "record without one is <file>:<row> (row from 0), as in `embkit add`."),
        model: str = typer.Option(DEFAULT_MODEL, "--model", help="Catalog name or model folder."),
        chunk_tokens: int = typer.Option(256, "--chunk-tokens", help="Longest chunk, in the model's tokens."),
        overlap: int = typer.Option(32, "--overlap", help="Tokens consecutive chunks share."),
        no_chunk: bool = typer.Option(False, "--no-chunk", help="Embed every document whole."),
        workers: int = typer.Option(2, "--workers", min=1, help="Ray actors embedding at once (each loads the "
                                    "model once)."),
        cpus_per_worker: float = typer.Option(0.5, "--cpus-per-worker", help="CPUs each actor reserves "
                                              "(fractions leave room for Ray Data's own tasks); it runs that "
                                              "many inference threads, at least one."),
        batch_size: int = typer.Option(32, min=1, max=4096, help="Texts per model batch."),
        max_shards: Optional[int] = typer.Option(None, "--max-shards", min=0, help="Embed at most this many "
                                                 "unfinished shards, then stop (a rerun continues)."),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="List every skipped file and why."),
        as_json: bool = JsonOpt) -> None:
    """Embed input shards into parquet shards of (id, text, metadata, vector), chunking
    as `embkit add` does, with a manifest that makes a rerun skip finished shards.
    Load the result into a collection with `embkit import`."""
    state: dict = {}

    def on_plan(job) -> None:
        state["bar"] = _progress(len(job.pending), "embedding shards", quiet=as_json)
        state["advance"] = state["bar"].__enter__()

    def on_shard(result) -> None:
        if result.error:
            typer.echo(f"warning: {result.source}: {result.error}", err=True)
        state["advance"](1)

    options = dict(text_column=text_column, id_column=id_column, chunk=not no_chunk, chunk_tokens=chunk_tokens,
                   overlap=overlap, batch_size=batch_size, limit=max_shards, on_plan=on_plan, on_shard=on_shard)
    try:
        if address == "none":
            from ..ingest.shards import ingest_local

            summary = ingest_local(inputs, output, model, **options)
        else:
            from ..distributed import ingest_distributed as run

            summary = run(inputs, output, model, address=address, workers=workers, cpus_per_worker=cpus_per_worker,
                          **options)
    finally:
        if "bar" in state:
            state["bar"].__exit__(None, None, None)
    _report_ingest(summary, as_json, verbose)


def _report_ingest(summary: dict, as_json: bool, verbose: bool = False) -> None:
    failed = summary["failed"]
    if as_json:
        _print_json(summary)
    else:
        seconds = max(summary["seconds"], 1e-9)  # documents (what the user gave) and chunks (what the model read)
        typer.echo(f"embedded {summary['processed']} shard(s) ({summary['documents']} documents as "
                   f"{summary['rows']} chunks) in {summary['seconds']:.1f}s ({summary['documents'] / seconds:.1f} "
                   f"documents/s, {summary['rows'] / seconds:.1f} chunks/s); "
                   f"{summary['skipped']} shard(s) finished before were skipped; "
                   f"{summary['output']} holds {summary['total_rows']} rows"
                   + (f"; {summary['pending']} shard(s) left for a rerun" if summary["pending"] else "")
                   + (f"; {len(failed)} shard(s) failed" if failed else ""))
    if summary["skipped_files"]:  # as `embkit add` reports the files it could not take
        if verbose:
            for s in summary["skipped_files"]:
                typer.echo(f"warning: skipped {s['file']}: {s['reason']}", err=True)
        skipped = [Skipped(s["file"], s["reason"], s["kind"]) for s in summary["skipped_files"]]
        typer.echo(f"warning: {skip_summary(skipped, verbose)}", err=True)
    if failed:
        if not summary["processed"]:
            raise EmbkitError(f"{failed[0]['error']}" + (f" (and {len(failed) - 1} more shard(s) failed)"
                                                          if len(failed) > 1 else ""))
        raise typer.Exit(3)  # partial: the other shards are done, a rerun retries the failed ones
    if summary["skipped_files"]:
        raise typer.Exit(3)  # partial: what could be read is embedded


@app.command("import")
def import_vectors(path: str = DirArg,
                   vectors: Path = typer.Argument(..., help="Folder made by `embkit ingest-distributed`."),
                   upsert: bool = typer.Option(False, "--upsert", help="Replace documents whose id exists."),
                   batch_size: int = typer.Option(5000, "--batch-size", min=1, help="Rows per transaction."),
                   as_json: bool = JsonOpt) -> None:
    """Bulk-load embedded shards into an existing collection without re-embedding. The
    model and dimension must match the collection's; every shard is read and checked
    before anything is written, and each batch is one transaction."""
    from ..ingest.bulk import import_shards
    from ..ingest.shards import Manifest

    manifest = Manifest.load(vectors) if vectors.is_dir() else None
    total = sum(int(e.get("rows") or 0) for e in manifest.shards.values()) if manifest else 0
    with open_collection(path) as col:
        with _progress(total, "importing", quiet=as_json) as advance:
            summary = import_shards(col, vectors, upsert=upsert, batch_size=batch_size, progress=advance)
    if summary["pending"]:
        typer.echo(f"warning: {len(summary['pending'])} input shard(s) were not embedded yet "
                   f"(first: {summary['pending'][0]}); rerun ingest-distributed, then import with --upsert", err=True)
    if as_json:
        _print_json(summary)
    else:
        typer.echo(f"{'upserted' if upsert else 'imported'} {summary['rows']} rows from {summary['shards']} shard(s) "
                   f"in {summary['seconds']:.1f}s ({summary['model']}, {summary['dim']}-d); "
                   f"collection holds {summary['count']}")
