"""Commands of the retrieval work: context, eval retrieval, train reranker."""

import json
from pathlib import Path
from typing import Optional

import typer

from .. import collection
from ..collection import open as open_collection
from ..errors import EmbkitError
from .common import DirArg, JsonOpt, WhereOpt, _print_json, _progress, _where, app, eval_app, train_app


@app.command()
def context(path: str = DirArg,
            question: str = typer.Argument(..., help="The question to gather context for."),
            budget_tokens: int = typer.Option(1500, "--budget-tokens", help="At most this many tokens of passages."),
            k: int = typer.Option(20, "-k", "--k", help="Candidates to choose passages from."),
            where: Optional[str] = WhereOpt,
            mode: Optional[str] = typer.Option(None, "--mode", help="dense, keyword or hybrid (default hybrid)."),
            rerank: Optional[int] = typer.Option(None, "--rerank", help="Rescore the top N with a cross-encoder."),
            reranker: Optional[str] = typer.Option(None, "--reranker", help="Cross-encoder folder for --rerank."),
            as_json: bool = JsonOpt) -> None:
    """Numbered, cited, deduplicated passages for QUESTION, ready to paste into an LLM prompt."""
    with open_collection(path) as col:
        ctx = col.context(question, budget_tokens, k=k, where=_where(where), mode=mode, rerank=rerank,
                          reranker=reranker)
    if as_json:
        _print_json(ctx.to_dict())
    elif not ctx.passages:
        typer.echo("no passages found")
    else:
        typer.echo(ctx.text)


@eval_app.command("retrieval")
def eval_retrieval(beir: Path = typer.Option(..., "--beir", help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/."),
                   split: str = typer.Option("test", "--split", help="Which qrels/<split>.tsv to evaluate."),
                   mode: str = typer.Option("dense", "--mode", help="dense, keyword or hybrid."),
                   model: str = typer.Option("minilm", "--model", help="Encoder for the corpus and the queries."),
                   rerank: Optional[int] = typer.Option(None, "--rerank",
                                                        help="Rescore the top N with a cross-encoder."),
                   reranker: Optional[str] = typer.Option(None, "--reranker",
                                                          help="Cross-encoder folder for --rerank."),
                   alpha: Optional[float] = typer.Option(None, "--alpha", help="Hybrid: dense weight (default 0.5)."),
                   rrf_k: Optional[int] = typer.Option(None, "--rrf-k", help="Hybrid: RRF with this constant instead."),
                   output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write the JSON report here."),
                   ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Embed the corpus on this Ray "
                                                             "cluster (auto, host:port, ray://..., local)."),
                   chunk: bool = typer.Option(False, "--chunk", help="Store long documents as chunks (as add "
                                              "does) and rank each document by its best chunk."),
                   keep_identical: bool = typer.Option(False, "--keep-identical", help="Keep a query's own id in "
                                                       "its results. By default, when query ids are also corpus "
                                                       "ids, it is dropped, as MTEB does (ignore_identical_ids)."),
                   prompts: bool = typer.Option(True, "--prompts/--no-prompts", help="Embed documents and queries "
                                                "with the model's prompts by role (passage: / query: for E5), as "
                                                "it was trained; --no-prompts embeds them as given."),
                   as_json: bool = JsonOpt) -> None:
    """nDCG@10, Recall@10/100, MRR@10 and MAP@100 of a search mode on a BEIR split."""
    from ..evaluate import load_beir
    from ..evaluate.retrieval import eval_retrieval as run

    queries = len(load_beir(beir, split).queries)  # fails fast, before any indexing
    with _progress(_corpus_size(beir), "indexing corpus", quiet=as_json) as index_bar, \
            _progress(queries, "queries", quiet=as_json) as query_bar:
        report = run(beir, split, mode, model, progress_index=index_bar, progress_queries=query_bar,
                     rerank=rerank, reranker=reranker, rrf_k=rrf_k, alpha=alpha, ray_address=ray_address,
                     collections=collection, chunk=chunk, ignore_identical_ids=False if keep_identical else None,
                     prompts=prompts)
    if output:
        output.write_text(json.dumps(report, indent=1) + "\n")
    if as_json:
        _print_json(report)
        return
    typer.echo(f"{beir} [{split}] {report['queries']} queries, {report['documents']} documents, mode {mode}"
               + (f", rerank {rerank}" if rerank else "")
               + (", queries' own ids left out of their results" if report["settings"]["ignore_identical_ids"] else "")
               + ("" if prompts else ", without prompts"))
    for name, value in report["metrics"].items():
        typer.echo(f"{name:>12}: {value:.4f}")


@train_app.command("reranker")
def train_reranker(beir: Path = typer.Option(..., "--beir", help="BEIR folder to train on."),
                   split: str = typer.Option("train", "--split", help="Training split (never test)."),
                   base: str = typer.Option("minilm", "--base", help="Starting model: catalog name or folder."),
                   output: Path = typer.Option(..., "-o", "--output", help="Folder for the trained cross-encoder."),
                   negatives: int = typer.Option(3, "--negatives", help="Hard negatives per positive."),
                   loss: str = typer.Option("mnrl", "--loss", help="mnrl (listwise) or bce (pointwise)."),
                   holdout: int = typer.Option(100, "--holdout", help="Training queries held out to tune the blend."),
                   epochs: int = typer.Option(1, "--epochs"),
                   batch_size: int = typer.Option(8, "--batch-size"),
                   lr: float = typer.Option(1e-4, "--lr"),
                   max_length: int = typer.Option(160, "--max-length", help="Tokens of query + passage."),
                   pseudo_queries: int = typer.Option(1500, "--pseudo-queries",
                                                      help="Add this many title → body examples from the corpus."),
                   repeat: int = typer.Option(2, "--repeat", help="Passes over the labelled queries per epoch."),
                   seed: int = typer.Option(0, "--seed"),
                   as_json: bool = JsonOpt) -> None:
    """Fine-tune a cross-encoder reranker with hard negatives mined by embkit's hybrid search."""
    from ..train.reranker import train_reranker as run

    if output.exists() and any(output.iterdir()):
        raise EmbkitError(f"output: {output} exists and is not empty")
    from ..evaluate import load_beir

    queries = len(load_beir(beir, split).queries)  # fails fast on a bad folder or split
    trained_on = queries - (holdout if 0 < holdout < queries else 0)
    with _progress(trained_on + pseudo_queries, "mining hard negatives", quiet=as_json) as advance:
        summary = run(beir, output, base=base, split=split, negatives=negatives, loss=loss, holdout=holdout,
                      epochs=epochs, batch_size=batch_size, lr=lr, max_length=max_length,
                      pseudo_queries=pseudo_queries, repeat=repeat, seed=seed, progress=advance,
                      collections=collection)
    if as_json:
        _print_json(summary)
    else:
        typer.echo(f"trained on {summary['triples']} (query, positive) pairs with {negatives} negatives each "
                   f"in {summary['seconds']['training']:.0f}s; blend weight {summary['blend']} (held-out nDCG@10 "
                   f"{summary['holdout_ndcg@10'].get(str(summary['blend']), '-')}); saved to {output}")


def _corpus_size(beir: Path) -> int:
    corpus = beir / "corpus.jsonl"
    with open(corpus, "rb") as f:
        return sum(1 for line in f if line.strip())
