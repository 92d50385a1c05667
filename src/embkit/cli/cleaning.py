"""Cleaning and comparing: outliers, dedupe, recommend, drift."""

import json
import warnings
from pathlib import Path
from typing import Optional

import typer

from ..analysis.units import check_unit
from ..collection import open as open_collection
from ..errors import EmbkitError, EmbkitWarning
from .analysis import UnitOpt
from .common import DirArg, JsonOpt, SpaceOpt, WhereOpt, _print_json, _progress, _where, app, open_space, slice_size


@app.command()
def outliers(path: str = DirArg,
             top: int = typer.Option(20, "--top", help="How many to show."),
             method: str = typer.Option("knn", "--method", help="knn (mean distance to the k nearest) or lof "
                                        "(local outlier factor)."),
             k: int = typer.Option(10, "-k", "--k", help="Neighbours per document."),
             where: Optional[str] = WhereOpt,
             unit: str = UnitOpt,
             space: Optional[str] = SpaceOpt,
             as_json: bool = JsonOpt) -> None:
    """The documents (or chunks, --unit chunk) least like the rest, most outlying first."""
    where_dict, unit = _where(where), check_unit(unit)
    with open_space(path, space) as col:
        _refresh(col, as_json)
        with _progress(_units(col, where_dict, unit), "neighbours", quiet=as_json) as advance:
            found = col.outliers(top, method, k=k, where=where_dict, unit=unit, progress=advance)
    if as_json:
        _print_json({"unit": unit, "results": [o._asdict() for o in found]})
        return
    for rank, o in enumerate(found, start=1):
        typer.echo(f"{rank:>3}. {o.score:.4f}  {o.id}{_meta(o.metadata)}\n     {_snippet(o.text)}")


@app.command()
def dedupe(path: str = DirArg,
           threshold: float = typer.Option(0.95, "--threshold", help="Cosine similarity from which two documents "
                                           "are near-duplicates."),
           delete: bool = typer.Option(False, "--delete", help="Delete all but one of each group (default: "
                                       "only show what would go)."),
           keep: str = typer.Option("first", "--keep", help="Which one of a group stays: first (inserted "
                                    "earliest) or longest (most text)."),
           where: Optional[str] = WhereOpt,
           unit: str = UnitOpt,
           space: Optional[str] = SpaceOpt,
           as_json: bool = JsonOpt) -> None:
    """Find near-duplicate groups; a dry run unless --delete (which deletes whole documents, or chunks with
    --unit chunk)."""
    where_dict, unit = _where(where), check_unit(unit)
    with open_space(path, space) as col:
        _refresh(col, as_json)
        with _progress(_units(col, where_dict, unit), "neighbours", quiet=as_json) as advance:
            report = col.dedupe(threshold, keep, delete, where=where_dict, unit=unit, progress=advance)
    if as_json:
        _print_json(report.to_dict())
        return
    for n, (group, kept) in enumerate(zip(report.groups, report.keep), start=1):
        lowest = min(score for _, _, score in group.pairs)
        typer.echo(f"group {n}: {len(group.ids)} {unit}s, cosine ≥ {lowest:.4f}")
        for doc_id, text in zip(group.ids, group.texts):
            typer.echo(f"  {'keep  ' if doc_id == kept else 'delete'} {doc_id}  {_snippet(text, 90)}")
    groups = f"{len(report.groups)} group(s) of near-duplicates"
    if delete:
        chunks = f" ({report.chunks} chunks)" if unit == "document" else ""
        typer.echo(f"{groups}; deleted {report.deleted} {unit}(s){chunks}")
    else:
        typer.echo(f"{groups}; dry run: would delete {len(report.delete)} {unit}(s) (--delete to do it)")


@app.command()
def recommend(path: str = DirArg,
              liked: list[str] = typer.Option(..., "--liked", help="A liked document id (repeat for more)."),
              disliked: Optional[list[str]] = typer.Option(None, "--disliked", help="A disliked document id "
                                                           "(repeat for more)."),
              k: int = typer.Option(10, "-k", "--k", help="Number of recommendations."),
              exclude: Optional[list[str]] = typer.Option(None, "--exclude", help="An id never to recommend "
                                                          "(repeat for more)."),
              include_seen: bool = typer.Option(False, "--include-seen", help="Allow liked and disliked "
                                                "documents in the results."),
              mmr: Optional[float] = typer.Option(None, "--mmr", help="Diversify: 1 = relevance only, 0 = "
                                                  "diversity only."),
              where: Optional[str] = WhereOpt,
              space: Optional[str] = SpaceOpt,
              as_json: bool = JsonOpt) -> None:
    """Documents like the liked ones and unlike the disliked ones."""
    where_dict = _where(where)
    with open_space(path, space) as col:
        _refresh(col, as_json)
        hits = col.recommend(liked, disliked or (), k, exclude_seen=not include_seen, exclude=exclude or (),
                             where=where_dict, mmr=mmr)
    if as_json:
        _print_json({"results": [h.to_dict() for h in hits]})
        return
    for rank, hit in enumerate(hits, start=1):
        typer.echo(f"{rank:>3}. {hit.score:.4f}  {hit.id}{_meta(hit.metadata)}\n     {_snippet(hit.text)}")


@app.command()
def drift(a: Path = typer.Argument(..., help="Collection folder A."),
          b: Optional[Path] = typer.Argument(None, help="Collection folder B (leave out to compare two slices "
                                             "of A, given by --where and --other-where)."),
          where: Optional[str] = WhereOpt,
          other_where: Optional[str] = typer.Option(None, "--other-where", help="Filter for B (or for A's "
                                                    "second slice), as JSON."),
          clusters: int = typer.Option(8, "--clusters", help="k-means clusters over both, for topic shares."),
          permutations: int = typer.Option(200, "--permutations", help="Relabellings for the MMD p-value."),
          sample: int = typer.Option(2000, "--sample", help="Documents per side for MMD and clusters."),
          seed: int = typer.Option(0, "--seed", help="Random seed for sampling, permutations, k-means."),
          plot: Optional[Path] = typer.Option(None, "--plot", help="Write a PNG of cluster shares and the test."),
          as_json: bool = JsonOpt) -> None:
    """How far B has moved from A: centroid shift, MMD with a p-value, cluster shares."""
    if b is None and (where is None or other_where is None):
        raise EmbkitError("where: with one collection, give both --where (slice A) and --other-where (slice B)")
    where_dict, other_dict = _where(where), _where(other_where)
    with open_collection(a) as col:
        other = open_collection(b) if b is not None else None
        try:
            report = col.drift(other, where=where_dict, other_where=other_dict, clusters=clusters,
                               permutations=permutations, sample=sample, seed=seed, plot=plot)
        finally:
            if other is not None:
                other.close()
    if as_json:
        _print_json(report.to_dict())
        return
    typer.echo(f"A: {report.n_a} documents, B: {report.n_b} documents")
    typer.echo(f"centroid cosine {report.centroid_cosine:.4f} (shift {report.centroid_shift:.4f})")
    typer.echo(f"MMD² {report.mmd:.5f}, p = {report.p_value:.4g} ({report.permutations} permutations, "
               f"bandwidth {report.bandwidth:.3f})")
    typer.echo("cluster  share A  share B   change  example")
    for c in sorted(report.cluster_shares, key=lambda c: -abs(c.change)):
        typer.echo(f"{c.cluster:>7}  {c.share_a:7.1%}  {c.share_b:7.1%}  {c.change:+7.1%}  {_snippet(c.example, 60)}")
    if report.plot:
        typer.echo(f"plot: {report.plot}")


def _units(col, where: Optional[dict], unit: str) -> int:
    """How many documents (or chunks) the slice holds, for a progress bar."""
    if unit == "chunk":
        return slice_size(col, where)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmbkitWarning)
        return col.count(where, unit="document")


def _refresh(col, quiet: bool) -> None:
    with _progress(col.count(), "updating index", quiet=quiet) as advance:
        col.refresh_index(progress=advance)


def _snippet(text: str | None, width: int = 120) -> str:
    flat = " ".join((text or "").split())
    return flat[:width - 3] + "..." if len(flat) > width else flat


def _meta(metadata: dict) -> str:
    return f"  {json.dumps(metadata, ensure_ascii=False)}" if metadata else ""
