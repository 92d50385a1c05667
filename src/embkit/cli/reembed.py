"""embkit reembed: move a collection's vector space to another model without downtime."""

from typing import Optional

import typer

from ..collection import open as open_collection
from ..maintenance.reembed import pending
from .common import DirArg, JsonOpt, _print_json, _progress, app


@app.command()
def reembed(path: str = DirArg,
            model: str = typer.Option(..., "--model", help="Catalog name (see `embkit models`) or a model folder."),
            space: Optional[str] = typer.Option(None, "--space", help="Space to move (default: text, or an "
                                                "image collection's image)."),
            drop_old: bool = typer.Option(False, "--drop-old", help="Remove the old space (vectors, index files) "
                                          "after the switch."),
            batch_size: int = typer.Option(64, "--batch-size", min=1, max=4096,
                                           help="Rows per model batch and per committed transaction."),
            quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
            as_json: bool = JsonOpt) -> None:
    """Re-embed the stored texts of a space with MODEL into a new space (NAME_v2, …)
    while searches keep using the old one, then switch the name to it in one
    transaction. Killed midway, running it again continues where it stopped."""
    with open_collection(path) as col:
        with _progress(pending(col, space), f"re-embedding with {model}", quiet=quiet or as_json) as bar:
            report = col.reembed(model, space=space, drop_old=drop_old, progress=bar, batch_size=batch_size)
    if as_json:
        _print_json(report)
        return
    resumed = " (resumed)" if report["resumed"] else ""
    typer.echo(f"re-embedded {report['embedded']} row(s) with {report['model']} into {report['to']}{resumed}; "
               f"{report['alias']!r} now searches {report['to']}"
               + (f"; removed {report['dropped']}" if report["dropped"] else f"; {report['from']} kept"))
