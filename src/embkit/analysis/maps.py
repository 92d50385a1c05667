"""A map of a collection: an interactive HTML page (plotly) and a PNG (matplotlib).

The page draws points with WebGL (`Scattergl`), so 100,000 of them stay responsive;
plotly's JavaScript is embedded, so the page opens offline. Hovering a point shows
its id, the start of its text and its metadata. Points are colored by a metadata
field: one color per value for categories (the most common `MAX_CATEGORIES`, the
rest as "other"), a color scale for numbers with many distinct values.

Points of image documents show their picture on hover (see map_pictures.py).

By default a point is a document (analysis/units.py), shown by its title or its first
chunk's text; `unit="chunk"` draws every chunk.

Coloring by a cluster field needs a clustering first (`embkit cluster`): a map only
reads, it never writes labels as a side effect. The stored cluster descriptions
label each cluster at its centre with its top terms.
"""

import html
import json
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from ..errors import EmbkitError
from .cluster import load_descriptions
from .coordinates import Stage, _tell, check_method, check_seed, project_table
from .map_pictures import HOVER_SCRIPT, point_pictures
from .units import DocumentTable, check_unit, display_text, unit_table

MAX_CATEGORIES = 48  # the palette's length
NUMERIC_ABOVE = 20  # numbers with more distinct values than this get a color scale
HOVER_CHARS = 200
MISSING = "(none)"


def write_map(col, out: str | Path, method: str = "umap", *, color_by: str | None = "cluster",
              where: dict | None = None, seed: int = 0, pca_dims: int = 50, unit: str = "document",
              progress: Stage | None = None) -> dict:
    """Write `out` (HTML) and the PNG beside it (same name, .png) for the documents
    (chunks with `unit="chunk"`) matching `where`, projected with `method` (umap, pca,
    tsne) and colored by metadata field `color_by` (None: one color). Returns what was
    written and done."""
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise EmbkitError(f"out: expected an .html file name, got {str(out)!r}")
    check_method(method)
    check_seed(seed)
    check_unit(unit)
    table = unit_table(col, where, unit)
    values = _field_values(table.metadatas, color_by) if color_by is not None else None
    projection = project_table(col, table, method, seed=seed, pca_dims=pca_dims, progress=progress)
    coloring = _coloring(values, load_descriptions(col, color_by) if color_by else None, len(table))
    pictures, picture_notes = point_pictures(col, table)
    notes = [*projection.notes, *coloring.notes, *picture_notes]
    _tell(progress, f"drawing {len(table):,} points")
    title = f"{col.name}: {len(table):,} {unit}s, {method.upper() if method != 'tsne' else 't-SNE'}" + \
        (f", colored by {color_by!r}" if color_by else "")
    png = out.with_suffix(".png")
    _write_html(out, projection.xy, _hover(table), coloring, title, pictures)
    _write_png(png, projection.xy, coloring, title)
    return {"html": str(out), "png": str(png), "points": len(table), "method": method, "color_by": color_by,
            "unit": unit, "notes": notes}


def _field_values(metadatas: list[dict], field: str) -> list:
    """Each document's value of `field` (None where absent); refuses a field no document has."""
    values = [m.get(field) for m in metadatas]
    if all(v is None for v in values):
        present = sorted({k for m in metadatas for k in m})
        hint = " run `embkit cluster DIR` first, or" if field == "cluster" else ""
        raise EmbkitError(f"color_by: no document has the field {field!r};{hint} pick one of: "
                          f"{', '.join(present[:20]) or '(no metadata fields)'} (or none)")
    return values


class _Coloring:
    """How points are colored: `groups` (label, color, row indices) for categories, or
    `numbers` (float array, NaN where missing) for a color scale; `labels` are the
    cluster annotations (text, row indices)."""

    def __init__(self):
        self.groups: list[tuple[str, str, np.ndarray]] = []
        self.numbers: np.ndarray | None = None
        self.labels: list[tuple[str, np.ndarray]] = []
        self.notes: list[str] = []


def _coloring(values: list | None, clusters: dict | None, n: int) -> _Coloring:
    from plotly.colors import qualitative

    coloring = _Coloring()
    if values is None:
        coloring.groups = [("documents", qualitative.Plotly[0], np.arange(n))]
        return coloring
    present = [v for v in values if v is not None]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)
    clusters = clusters if numeric else None  # descriptions fit only a field of cluster numbers
    if numeric and len(set(present)) > NUMERIC_ABOVE and not clusters:
        coloring.numbers = np.array([np.nan if v is None else float(v) for v in values])
        missing = np.flatnonzero(np.isnan(coloring.numbers))
        coloring.groups = [(MISSING, "#bbbbbb", missing)] if len(missing) else []
        return coloring
    keys = [MISSING if v is None else _key(v) for v in values]
    names, inverse, sizes = np.unique(np.array(keys, dtype=object), return_inverse=True, return_counts=True)
    order = sorted(range(len(names)), key=lambda i: _order(names[i], sizes[i], numeric))
    palette = qualitative.Dark24 + qualitative.Light24
    kept = order[:MAX_CATEGORIES]
    for slot, i in enumerate(kept):
        rows = np.flatnonzero(inverse == i)
        label = _label(names[i], clusters)
        coloring.groups.append((label, "#bbbbbb" if names[i] == MISSING else palette[slot], rows))
        if clusters and names[i] != MISSING and float(names[i]) >= 0:
            coloring.labels.append((label, rows))
    if len(order) > MAX_CATEGORIES:
        rows = np.flatnonzero(np.isin(inverse, order[MAX_CATEGORIES:]))
        coloring.groups.append(("other", "#777777", rows))
        coloring.notes.append(f"{len(order) - MAX_CATEGORIES} smaller categories drawn together as 'other'")
    return coloring


def _key(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _order(name: str, size: int, numeric: bool):
    """Numbers (cluster ids) in numeric order, noise (-1) and missing last; other values largest first."""
    if name == MISSING:
        return (2, 0, name)
    if numeric:
        value = float(name)
        return (1 if value < 0 else 0, value, name)
    return (0, -size, name)


def _label(name: str, clusters: dict | None) -> str:
    """A category's legend entry: the value, and for a cluster its top three terms."""
    if not clusters or name == MISSING:
        return name if len(name) <= 60 else name[:59] + "…"
    if float(name) < 0:
        return f"{name}: noise"
    described = clusters.get(int(float(name)))
    return f"{name}: {', '.join(described.terms[:3])}" if described and described.terms else name


def _hover(table) -> list[str]:
    """Per point: id, the start of the text (a document's title, else its first
    chunk's text; wrapped) and the metadata, HTML-escaped."""
    out = []
    documents = isinstance(table, DocumentTable)
    for doc_id, text, meta in zip(table.ids, table.texts, table.metadatas):
        text = " ".join((display_text(text, meta) if documents else text or "").split())
        text = text if len(text) <= HOVER_CHARS else text[:HOVER_CHARS - 1] + "…"
        lines = [f"<b>{html.escape(doc_id)}</b>", *_wrap(html.escape(text), 80)]
        lines += [f"{html.escape(str(k))}: {html.escape(_key(v))[:80]}" for k, v in list(meta.items())[:10]]
        out.append("<br>".join(lines))
    return out


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + [line] if line else lines


def _write_html(path: Path, xy: np.ndarray, hover: list[str], coloring: _Coloring, title: str,
                pictures: list | None = None) -> None:
    import plotly.graph_objects as go

    def extra(rows) -> dict:  # each image point's picture, for the hover script
        return {"customdata": [pictures[i] for i in rows]} if pictures is not None else {}

    fig = go.Figure()
    marker = {"size": 4 if len(xy) > 20_000 else 6, "opacity": 0.8}
    if coloring.numbers is not None:
        rows = np.flatnonzero(~np.isnan(coloring.numbers))
        fig.add_trace(go.Scattergl(x=xy[rows, 0], y=xy[rows, 1], mode="markers", text=[hover[i] for i in rows],
                                   hoverinfo="text", name="documents", **extra(rows),
                                   marker={**marker, "color": coloring.numbers[rows], "colorscale": "Viridis",
                                           "showscale": True}))
    for label, color, rows in coloring.groups:
        fig.add_trace(go.Scattergl(x=xy[rows, 0], y=xy[rows, 1], mode="markers", name=html.escape(label),
                                   text=[hover[i] for i in rows], hoverinfo="text", marker={**marker, "color": color},
                                   **extra(rows)))
    for label, rows in coloring.labels:
        cx, cy = np.median(xy[rows], axis=0)
        fig.add_annotation(x=float(cx), y=float(cy), text=html.escape(label), showarrow=False,
                           font={"size": 12, "color": "black"}, bgcolor="rgba(255,255,255,0.7)")
    fig.update_layout(title=title, template="plotly_white", legend={"itemsizing": "constant"},
                      xaxis={"showticklabels": False}, yaxis={"showticklabels": False})

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            fig.write_html(f, include_plotlyjs=True, full_html=True,
                           post_script=HOVER_SCRIPT if pictures is not None else None)

    atomic_write(path, write)


def _write_png(path: Path, xy: np.ndarray, coloring: _Coloring, title: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 8), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    size = float(np.clip(20000 / len(xy), 1, 12))  # visible at 100k points, not blotted at 1k
    if coloring.numbers is not None:
        known = ~np.isnan(coloring.numbers)
        points = ax.scatter(xy[known, 0], xy[known, 1], s=size, c=coloring.numbers[known], cmap="viridis",
                            linewidths=0, rasterized=True)
        fig.colorbar(points, ax=ax)
    for label, color, rows in coloring.groups:
        ax.scatter(xy[rows, 0], xy[rows, 1], s=size, c=color, label=label, linewidths=0, rasterized=True)
    for label, rows in coloring.labels:
        cx, cy = np.median(xy[rows], axis=0)
        ax.text(cx, cy, label, fontsize=8, ha="center", va="center",
                bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1})
    if 1 < len(coloring.groups) <= 20:
        ax.legend(loc="best", fontsize=7, markerscale=max(1.0, 6 / size), frameon=False)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            fig.savefig(f, format="png")

    atomic_write(path, write)
