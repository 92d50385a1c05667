"""Commands of the analysis work: cluster and map (outliers, dedupe, recommend and
drift live in their own module)."""

from pathlib import Path
from typing import Optional

import typer

from ..errors import EmbkitError
from .common import DirArg, JsonOpt, SpaceOpt, WhereOpt, _print_json, _where, app, open_space

UnitOpt = typer.Option("document", "--unit", help="What to count: document (one vector per document, the mean "
                       "of its chunks') or chunk.")


def _stages(quiet: bool):
    """Where the library's stage messages go: stderr, unless the output is JSON."""
    return None if quiet else (lambda message: typer.echo(f"… {message}", err=True))


def _k(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise EmbkitError(f"k: expected auto or an integer, got {text!r}") from None


@app.command()
def cluster(path: str = DirArg,
            k: str = typer.Option("auto", "-k", "--k", help="Number of clusters, or auto (best silhouette)."),
            method: str = typer.Option("kmeans", "--method", help="kmeans or hdbscan (finds k itself, noise = -1)."),
            where: Optional[str] = WhereOpt,
            field: str = typer.Option("cluster", "--field", help="Metadata field that receives the cluster number."),
            seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same clusters)."),
            min_cluster_size: Optional[int] = typer.Option(None, "--min-cluster-size",
                                                           help="hdbscan: smallest group that counts as a cluster."),
            ray_address: Optional[str] = typer.Option(None, "--ray-address", help="kmeans: assign the vectors to "
                                                      "the centroids in Ray tasks (auto, host:port, ray://..., "
                                                      "local)."),
            unit: str = UnitOpt,
            space: Optional[str] = SpaceOpt,
            as_json: bool = JsonOpt) -> None:
    """Group documents by meaning; store each one's cluster in metadata (on all its chunks) and describe the
    clusters."""
    where_dict, k_value = _where(where), _k(k)
    with open_space(path, space) as col:
        result = col.cluster(k_value, method, where=where_dict, field=field, seed=seed, unit=unit,
                             min_cluster_size=min_cluster_size, progress=_stages(as_json), ray_address=ray_address)
    if as_json:
        _print_json(result.to_dict())
        return
    noise = f", {result.noise} noise (-1)" if result.method == "hdbscan" else ""
    typer.echo(f"{result.k} clusters of {result.documents} {result.unit}s{noise}; stored in metadata field "
               f"{result.field!r} (filter with --where '{{\"{result.field}\": 0}}')")
    for note in result.notes:
        typer.echo(f"note: {note}")
    counted = "docs" if result.unit == "document" else "chunks"
    for c in result.clusters:
        kind = "noise: " if c.id < 0 else ""
        typer.echo(f"{c.id:>4}  {c.size:>6} {counted}  {kind}{', '.join(c.terms) or '(no terms)'}\n"
                   f"      representative {c.representative}: {c.snippet}")


@app.command("map")
def map_(path: str = DirArg,
         method: str = typer.Option("umap", "--method", help="umap, pca or tsne."),
         color_by: str = typer.Option("cluster", "--color-by",
                                      help="Metadata field to color by (cluster needs `embkit cluster` first), "
                                           "or none."),
         output: Path = typer.Option(Path("map.html"), "-o", "--output", help="HTML file; the PNG goes beside it."),
         where: Optional[str] = WhereOpt,
         seed: int = typer.Option(0, "--seed", help="Random seed of the projection."),
         unit: str = UnitOpt,
         space: Optional[str] = SpaceOpt,
         as_json: bool = JsonOpt) -> None:
    """Draw the documents in 2-D: an interactive HTML page (hover for text) and a PNG."""
    where_dict = _where(where)
    with open_space(path, space) as col:
        result = col.map(output, method, color_by=None if color_by == "none" else color_by, where=where_dict,
                         seed=seed, unit=unit, progress=_stages(as_json))
    if as_json:
        _print_json(result)
        return
    typer.echo(f"wrote {result['html']} and {result['png']} ({result['points']} points, {method})")
    for note in result["notes"]:
        typer.echo(f"note: {note}")
