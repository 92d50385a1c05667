"""`embkit check DIR [--repair]`: verify a collection, rebuild what is derived;
`embkit compact DIR`: give back the space deleted documents left."""

import typer

from ..errors import EmbkitError
from .common import DirArg, JsonOpt, _print_json, app


@app.command()
def check(path: str = DirArg,
          repair: bool = typer.Option(False, "--repair", help="Rebuild the derived files that fail (vector and "
                                      "keyword indexes) from the store; store rows are never changed."),
          as_json: bool = JsonOpt) -> None:
    """Verify a collection: the database's integrity and schema version, every vector
    (dimension, finite, unit length for cosine), the vector indexes and the keyword
    index against the store. Exit 1 when a check fails (after --repair, if given)."""
    report = _report(path, repair)
    if as_json:
        _print_json(report.to_dict())
    else:
        _print_table(report)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def compact(path: str = DirArg,
            full: bool = typer.Option(False, "--full", help="Rebuild every vector index holding deleted "
                                      "entries, not only those where they are a fifth or more."),
            as_json: bool = JsonOpt) -> None:
    """Give back the space deleted documents left: vector indexes whose deleted entries
    are a fifth or more rebuilt without them (all with --full), stale cache files removed,
    the database rewritten (SQLite VACUUM at the page size its vectors want; PostgreSQL
    VACUUM FULL). Nothing stored changes.
    A SQLite collection must not be open elsewhere meanwhile (a server, a sync)."""
    from ..collection import open as open_collection
    from ..maintenance.sizes import human

    with open_collection(path) as col:
        result = col.compact(full=full)
    if as_json:
        _print_json(result)
        return
    before, after = result["before"], result["after"]
    share = f", {100 * (before - after) / before:.0f}% smaller" if before and after < before else ""
    typer.echo(f"compacted: {human(before)} -> {human(after)}{share}")
    if result["indexes"]:
        typer.echo(f"vector index rebuilt without deleted entries: {', '.join(result['indexes'])}")
    for kept in result["kept"]:
        if kept["dead"]:
            typer.echo(f"vector index kept: {kept['space']} ({kept['reason']})")
    if result["removed"]:
        typer.echo(f"stale cache files removed: {len(result['removed'])}")


def _report(path: str, repair: bool):
    """The collection's report; for a SQLite folder that does not open, why, and what
    SQLite's own check of the file finds."""
    from pathlib import Path

    from ..collection import open as open_collection
    from ..maintenance import check_unopenable
    from ..store import DB_NAME
    from ..store.pg_connection import is_url

    try:
        col = open_collection(path)
    except EmbkitError as e:
        if is_url(path) or not (Path(path) / DB_NAME).is_file():
            raise  # no collection there at all: a plain error
        return check_unopenable(Path(path), str(e))
    with col:
        return col.check(repair=repair)


def _print_table(report) -> None:
    width = max(len(c.name) for c in report.checks)
    typer.echo(f"{'check':<{width}}  result  detail")
    for c in report.checks:
        typer.echo(f"{c.name:<{width}}  {'ok' if c.ok else 'FAIL':<6}  {c.detail}")
    if report.repaired:
        typer.echo(f"repaired: {', '.join(report.repaired)} (rebuilt from the store)")
    failed = report.failed
    typer.echo("all checks passed" if not failed else f"{len(failed)} of {len(report.checks)} checks failed")
