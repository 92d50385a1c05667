"""Snapshots: a consistent copy of a collection while it is written, and its restore."""

import typer

from .common import JsonOpt, _print_json, app


@app.command()
def snapshot(path: str = typer.Argument(..., help="Collection folder."),
             out: str = typer.Argument(..., help="New folder for the snapshot (must not exist or be empty)."),
             as_json: bool = JsonOpt) -> None:
    """Copy a collection consistently while writers keep writing: the database as of one
    commit, with the caches of that generation (others are rebuilt when opened).

    PostgreSQL: pg_dump of the schema embkit_NAME (a URL's error prints the exact commands)."""
    from ..maintenance.snapshot import snapshot as take

    manifest = take(path, out)
    if as_json:
        _print_json(manifest)
        return
    typer.echo(f"snapshot of {path} at generation {manifest['generation']} in {out}: "
               f"copied {', '.join(manifest['copied'])}")
    for name, reason in manifest["rebuilt_on_open"].items():
        typer.echo(f"  {name}: rebuilt on open ({reason})")



@app.command()
def restore(snapshot_dir: str = typer.Argument(..., metavar="SNAPSHOT", help="Folder made by `embkit snapshot`."),
            path: str = typer.Argument(..., help="Collection folder to restore into."),
            force: bool = typer.Option(False, "--force", help="Replace a folder that is not empty."),
            as_json: bool = JsonOpt) -> None:
    """Restore a snapshot into a folder, all at once (a folder that is not empty is
    refused without --force)."""
    from ..collection import restore as restore_collection

    with restore_collection(snapshot_dir, path, force) as col:
        count = col.count()
        generation = col.info()["generation"]
    if as_json:
        _print_json({"path": path, "count": count, "generation": generation})
        return
    typer.echo(f"restored {count} documents (generation {generation}) into {path}")
