"""Commands about models and vectors without a collection: embed, similarity, models, version."""

import json
import sys
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from .. import __version__
from ..collection import open as open_collection
from ..encoders import CATALOG, DEFAULT_MODEL, load_encoder
from ..encoders.registry import registered
from ..errors import EmbkitError
from ..search import METRICS, top_k
from .common import JsonOpt, _print_json, app


@app.command()
def embed(texts: list[str] = typer.Argument(..., help="Texts to embed."),
          model: str = typer.Option(DEFAULT_MODEL, help="Catalog name or model folder."),
          collection: Optional[Path] = typer.Option(None, help="Use this collection's model instead."),
          fmt: str = typer.Option("json", "--format", help="json or npy."),
          output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write here instead of stdout."),
          role: Optional[str] = typer.Option(None, "--as", help="query or document (or passage): put the model's "
                                             "prompt for that role before each text, as search and add do. "
                                             "Default: none, the texts exactly as given.")) -> None:
    """Print the vectors of TEXTS (json) or write them as a .npy array."""
    from ..encoders.prompts import check_role, encode_as

    if fmt not in ("json", "npy"):
        raise EmbkitError(f"format: unknown {fmt!r} (allowed: json, npy)")
    role = check_role(role, "--as")
    if collection is not None:
        with open_collection(collection) as col:
            vectors, name = col.embed(texts, role=role), col.space.model
    else:
        from ..validate import check_texts

        encoder = load_encoder(model)
        vectors, name = encode_as(encoder, check_texts(texts), role), encoder.name
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
               query: bool = typer.Option(False, "--query", help="A is a query and B a document: each gets the "
                                          "model's prompt for its role, as a search compares them. Default: both "
                                          "as given."),
               as_json: bool = JsonOpt) -> None:
    """How close two texts are in meaning (cosine by default; l2 is negated distance)."""
    from ..encoders.base import l2_normalize
    from ..encoders.prompts import encode_as
    from ..validate import check_texts

    if metric not in METRICS:
        raise EmbkitError(f"metric: unknown {metric!r} (allowed: {', '.join(METRICS)})")
    a, b = check_texts([a, b])
    encoder = load_encoder(model)
    vectors = np.concatenate([encode_as(encoder, [a], "query"), encode_as(encoder, [b], "document")]) if query \
        else encode_as(encoder, [a, b], None)
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
    """Every catalog model (dimension, backend, licence, installed?, window, pooling,
    languages, prompts by role) and every trained model registered."""
    from ..encoders.model_facts import entry_facts, folder_facts

    rows = [{"name": e.name, "dim": e.dim, "backend": e.backend, "licence": e.licence,
             "installed": e.installed, "package": e.package, "install": e.install, "modality": e.modality,
             "paired": e.paired, "description": e.description, **entry_facts(e)} for e in CATALOG.values()]
    for name, r in registered().items():
        two_tower = bool(r.get("paired"))
        other = "audio" if two_tower and r["paired"].endswith("#audio") else "image"  # NAME#audio or NAME#image
        rows.append({"name": name, "dim": r["dim"], "licence": "-", "installed": True, "package": None,
                     "backend": ("clap" if other == "audio" else "clip") if two_tower else "onnx",
                     "install": None, "modality": "text",
                     "paired": r.get("paired"), "matryoshka": r["matryoshka"], "path": r["path"],
                     "description": f"trained: {r['path']}"
                     + (f" (Matryoshka {r['matryoshka']})" if r["matryoshka"] else "")
                     + (f" (text tower; {other}: {r['paired']})" if two_tower else ""),
                     **folder_facts(Path(r["path"]))})
        if two_tower:
            rows.append({**rows[-1], "name": r["paired"], "modality": other, "paired": name,
                         "description": f"trained: {r['path']} ({other} tower; texts: {name})"})
    if as_json:
        _print_json({"models": rows})
        return
    _print_model_table(rows)


def _print_model_table(rows: list[dict]) -> None:
    """One line per model, then its window, pooling, languages and prompts, and how to get it."""
    from ..encoders.model_facts import languages_label, prompts_label

    width = max(14, *(len(r["name"]) + 2 for r in rows))
    backend = max(10, *(len(r["backend"]) + 2 for r in rows))  # "torch-bf16" ran into the licence
    typer.echo(f"{'name':<{width}}{'dim':>5}  {'modality':<9}{'backend':<{backend}}{'licence':<12}{'installed':<10}"
               "description")
    for r in rows:
        status = "yes" if r["installed"] else "no"
        typer.echo(f"{r['name']:<{width}}{r['dim']:>5}  {r['modality']:<9}{r['backend']:<{backend}}"
                   f"{r['licence']:<12}{status:<10}{r['description']}")
        if r["modality"] == "text":
            typer.echo(f"{'':<{width}}       window {r['window'] or '-'} · pooling {r['pooling'] or '-'} · "
                       f"languages {languages_label(r['languages'])} · prompts {prompts_label(r['prompts'])}")
        if not r["installed"]:
            typer.echo(f"{'':<{width}}       get it with: {r['install']}")


@app.command()
def version() -> None:
    """Print embkit's version."""
    typer.echo(__version__)
