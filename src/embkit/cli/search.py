"""Commands that search and build the index: search, index."""

import json
import time
import warnings
from typing import Optional

import typer

from ..errors import EmbkitWarning
from ..search.hit import hits_payload
from ..search.request import SearchRequest
from .common import DirArg, JsonOpt, SpaceOpt, WhereOpt, _print_json, _progress, _where, app, open_space


@app.command()
def search(path: str = DirArg,
           query: Optional[str] = typer.Argument(None, help="What to look for, in words."),
           k: int = typer.Option(10, "-k", "--k", help="Number of results."),
           where: Optional[str] = WhereOpt,
           like: Optional[str] = typer.Option(None, "--like", help="Find documents like the one with this id."),
           mode: str = typer.Option("dense", "--mode", help="dense (by meaning), keyword (BM25) or hybrid (both)."),
           alpha: Optional[float] = typer.Option(None, "--alpha", help="Hybrid: alpha x dense + (1-alpha) x keyword "
                                                 "normalized scores (default 0.5)."),
           rrf_k: Optional[int] = typer.Option(None, "--rrf-k", help="Hybrid: reciprocal rank fusion with this "
                                               "constant (e.g. 60) instead of weighted scores."),
           mmr: Optional[float] = typer.Option(None, "--mmr",
                                               help="Diversify: 1 = relevance only, 0 = diversity only."),
           rerank: Optional[int] = typer.Option(None, "--rerank", help="Rescore the top N with a cross-encoder."),
           reranker: Optional[str] = typer.Option(None, "--reranker", help="Cross-encoder folder for --rerank."),
           documents: bool = typer.Option(False, "--documents", help="Best chunk per document instead of chunks."),
           ef: Optional[int] = typer.Option(None, "--ef", help="HNSW search beam for this query."),
           nprobe: Optional[int] = typer.Option(None, "--nprobe", help="IVF lists to visit for this query."),
           rescore: Optional[int] = typer.Option(None, "--rescore",
                                                 help="Quantized indexes: candidates per result to rerank exactly."),
           dims: Optional[int] = typer.Option(None, "--dims", help="Matryoshka: candidates from the first DIMS "
                                              "dimensions, rescored with the full vectors."),
           image: Optional[str] = typer.Option(None, "--image", help="Search by this image (png, jpg, webp)."),
           audio: Optional[str] = typer.Option(None, "--audio", help="Search by this sound (wav, flac, ogg, "
                                               "mp3; at most a minute)."),
           space: Optional[str] = SpaceOpt,
           read_url: Optional[str] = typer.Option(None, "--read-url", help="PostgreSQL: read from this replica."),
           as_json: bool = JsonOpt) -> None:
    """Search by meaning, by keywords or both: a query text, --image FILE, --audio FILE or
    --like ID. A text query finds images or sounds in an image or audio space through the
    model's text tower."""
    request = SearchRequest(query, k=k, where=_where(where), like=like, mode=mode, rrf_k=rrf_k, alpha=alpha,
                            mmr=mmr, rerank=rerank, reranker=reranker, documents=documents, ef=ef, nprobe=nprobe,
                            rescore=rescore, dims=dims, image=image, audio=audio, space=space)
    with open_space(path, space, read_url=read_url) as col:
        if mode != "keyword":
            with _progress(col.count(), "updating index", quiet=as_json) as advance:
                col.refresh_index(progress=advance)
        started = time.perf_counter()
        found = col.find(request)
        for line in found.warnings:  # one `warning: ...` line each on stderr (see cli/__init__.py)
            warnings.warn(line, EmbkitWarning, stacklevel=1)
        if as_json:  # the shape HTTP answers (search/hit.py): before closing saves the caches
            _print_json(hits_payload(found.hits, (time.perf_counter() - started) * 1000, found.warnings))
        else:
            _print_hits(found.hits, mode, rerank)


def _print_hits(hits, mode: str, rerank: Optional[int]) -> None:
    if not hits:
        typer.echo("no results")
    for rank, hit in enumerate(hits, start=1):
        snippet = " ".join((hit.text or _image_line(hit.metadata) or _audio_line(hit.metadata)).split())
        snippet = snippet[:117] + "..." if len(snippet) > 120 else snippet
        meta = f"  {json.dumps(hit.metadata, ensure_ascii=False)}" if hit.metadata else ""
        found_by = _found_by(hit) if mode == "hybrid" or rerank else ""
        typer.echo(f"{rank:>3}. {hit.score:.4f}  {hit.id}{found_by}{meta}\n     {snippet}")


def _image_line(metadata: dict) -> str:
    if not metadata.get("image"):
        return ""
    return f"[image {metadata.get('width')}x{metadata.get('height')} {metadata.get('format', '')}]"


def _audio_line(metadata: dict) -> str:
    """`[audio 0.75-1.75 s of 2.5 s, wav]`: the window a hit matched, in its file."""
    if "duration_s" not in metadata or "start" not in metadata:
        return ""
    return (f"[audio {metadata['start']:g}-{metadata['end']:g} s of {metadata['duration_s']:g} s, "
            f"{metadata.get('format', '')}]")


def _found_by(hit) -> str:
    """Where a fused or reranked hit ranked in each retriever, e.g. `  [dense #2, keyword #7]`."""
    parts = [f"{name} #{rank}" for name, rank in (("dense", hit.dense_rank), ("keyword", hit.keyword_rank)) if rank]
    return f"  [{', '.join(parts)}]" if parts else ""


@app.command()
def index(path: str = DirArg,
          spec: str = typer.Option("auto", "--spec", help="flat | hnsw:M=32,efc=200,ef=64 | ivf:nlist=1024,nprobe=16 | "
                                   "ivfpq:nlist=1024,m=48,nbits=8,nprobe=16 | sq8 | binary | auto"),
          memory_budget: Optional[str] = typer.Option(None, "--memory-budget",
                                                      help="With auto: fit the index in this much, e.g. 512MB."),
          dims: Optional[int] = typer.Option(None, "--dims",
                                             help="Index the Matryoshka view on the first DIMS dimensions."),
          space: Optional[str] = SpaceOpt,
          as_json: bool = JsonOpt) -> None:
    """Choose and build the collection's vector index (rebuilt from the store)."""
    with open_space(path, space) as col:
        start = time.perf_counter()
        with _progress(col.count(), "indexing", quiet=as_json) as advance:
            data = col.build_index(spec, memory_budget=memory_budget, progress=advance, dims=dims)
        data["seconds"] = round(time.perf_counter() - start, 3)
    if as_json:
        _print_json(data)
    else:
        typer.echo(f"built {data['spec']} index in {data['seconds']:.1f}s ({data['bytes']} bytes on disk)")
