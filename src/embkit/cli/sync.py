"""`embkit sync DIR FOLDER`: the collection mirrors a folder (see ingest/sync.py); with
--watch it keeps mirroring it as files change, until Ctrl-C."""

import warnings
from typing import Optional

import typer

from ..collection import open as open_collection
from ..errors import EmbkitError, EmbkitWarning
from ..ingest.skips import summary as skip_summary
from .common import DirArg, JsonOpt, _print_json, app


@app.command()
def sync(path: str = DirArg,
         folder: str = typer.Argument(..., help="The folder to mirror; files are read and named (FOLDER/PATH) "
                                      "as `embkit add DIR FOLDER` reads and names them."),
         include: Optional[list[str]] = typer.Option(None, "--include", help="Mirror only files matching this glob "
                                                     "(repeatable; as `embkit add --include`)."),
         exclude: Optional[list[str]] = typer.Option(None, "--exclude", help="Leave out files matching this glob "
                                                     "(repeatable); their documents are left alone too."),
         dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be added, changed and removed; "
                                      "write nothing."),
         watch: bool = typer.Option(False, "--watch", help="Keep syncing as files change, until Ctrl-C."),
         debounce: int = typer.Option(500, "--debounce", min=50, max=60_000, help="--watch: milliseconds of quiet "
                                      "after a change before syncing."),
         no_cache: bool = typer.Option(False, "--no-cache", help="Embed every text again instead of taking the "
                                       "vectors of texts embedded before from the embedding cache."),
         batch_size: int = typer.Option(32, min=1, max=4096, help="Texts per model batch."),
         verbose: bool = typer.Option(False, "--verbose", "-v", help="List every file added, changed, removed "
                                      "or skipped."),
         as_json: bool = JsonOpt) -> None:
    """Make the collection mirror FOLDER: new and changed files (by content hash, kept
    in metadata `sha256`) are embedded and written, a batch of files a transaction,
    their old chunks replaced; unchanged files are only hashed; documents of files gone
    are deleted. Texts embedded before (a renamed file, the untouched chunks of an
    edited one) come from the embedding cache. A file that cannot be read is skipped
    and keeps its documents (exit 3). Prints added/changed/unchanged/removed."""
    if watch and dry_run:
        raise EmbkitError("watch: --watch and --dry-run do not go together")
    with open_collection(path) as col:
        col.cache_embeddings = not no_cache
        options = dict(include=include, exclude=exclude, dry_run=dry_run, batch_size=batch_size)
        done = _sync(col, folder, options)
        _report(done, verbose, as_json)
        if watch:
            _watch(col, folder, options, debounce, verbose, as_json)
            return
    if done.skipped:
        raise typer.Exit(3)  # partial: what could be read landed


def _sync(col, folder: str, options: dict):
    """`col.sync` without the Python warnings of its own lines: `_report` prints them (each
    once, the skip summary as --verbose asks). Any other warning given meanwhile (an
    embedding cache not used, a model run in fp32) is shown as usual."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        done = col.sync(folder, **options)
    own = set(done.notes(verbose=True))
    for w in caught:
        if not (issubclass(w.category, EmbkitWarning) and str(w.message) in own):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return done


def _report(done, verbose: bool, as_json: bool) -> None:
    """The summary on stdout (a JSON object with --json), the rest on stderr."""
    if as_json:
        _print_json(done.as_dict())
    else:
        typer.echo(done.summary)
        if verbose:
            for label, names in (("added", done.added), ("changed", done.changed), ("removed", done.removed)):
                for name in names:
                    typer.echo(f"  {label} {name}")
    for line in done.warnings:
        typer.echo(f"warning: {line}", err=True)
    if done.skipped:
        if verbose:
            for s in done.skipped:
                typer.echo(f"warning: skipped {s.path}: {s.reason}", err=True)
        typer.echo(f"warning: {skip_summary(done.skipped, verbose)}", err=True)


def _watch(col, folder: str, options: dict, debounce: int, verbose: bool, as_json: bool) -> None:
    """Sync again after each burst of changes (one JSON line each with --json); a sync
    that fails says why and the watch goes on. Ctrl-C ends it (exit 0)."""
    import watchfiles

    typer.echo(f"watching {folder} (Ctrl-C to stop)", err=True)
    try:
        for _ in watchfiles.watch(folder, debounce=debounce, raise_interrupt=False):
            try:
                _report(_sync(col, folder, options), verbose, as_json)
            except EmbkitError as e:
                typer.echo(f"error: {e}", err=True)
    except KeyboardInterrupt:  # during a sync: its committed batches stay; the collection closes cleanly
        pass
