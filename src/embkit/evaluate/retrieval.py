"""Retrieval evaluation on a BEIR folder: index the corpus once (cached by content
hash), run the queries in a search mode, score the run against the qrels.

This package sits below `collection.py`, so the caller hands in what opens and creates
collections (`collections=embkit`, or `embkit.collection`)."""

import contextlib
import hashlib
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Protocol

from ..encoders.prompts import declared_prompt, declared_prompts, unprompted
from ..errors import EmbkitError, EmbkitWarning
from ..paths import embkit_home
from ..search.pipeline import MODES
from .beir import BeirData, load_beir
from .metrics import evaluate

MEASURES = ("ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100")
TRAIN_REPORT = "embkit-train.json"  # train/output.py SUMMARY
DEPTH = 100  # results per query: enough for recall@100 and map@100
ADD_BATCH = 256

Progress = Callable[[int], None]


class Collections(Protocol):
    """Opens and creates collections: the `embkit` package (or `embkit.collection`) is one."""

    def open(self, path: str | Path) -> Any: ...

    def create(self, path: str | Path, model: str = ...) -> Any: ...


def corpus_collection(data: BeirData, corpus_file: Path, model: str = "minilm", progress: Progress | None = None,
                      ray_address: str | None = None, *, collections: Collections, chunk: bool = False):
    """A collection of the corpus under EMBKIT_HOME/eval, keyed by the corpus bytes and
    the model: built once (embedding is the slow part), reused by later runs, opened and
    created through `collections`. With `ray_address`, the corpus is embedded on Ray (in
    shards) and bulk-loaded."""
    digest = hashlib.sha256(corpus_file.read_bytes()).hexdigest()[:16]
    built_on = "-ray" if ray_address is not None else ""  # kept apart, so a Ray run really runs on Ray
    built_on += "-chunked" if chunk else ""
    built_on += _prompt_stamp(model)
    folder = embkit_home() / "eval" / f"{digest}-{_safe(model)}{_model_stamp(model)}{built_on}"
    ids = [i for i in data.corpus if data.doc_text(i)]  # an empty document can never be found: not indexed
    if (folder / "embkit.db").exists():
        col = collections.open(folder)
        if col.count(unit="document") == len(ids):
            return col
        col.close()  # an interrupted build: start again
        _remove(folder)
    col = collections.create(folder, model=model)
    if ray_address is not None:
        from ..distributed.ray_ingest import embed_into

        embed_into(col, ids, [data.doc_text(i) for i in ids], [{"title": data.corpus[i]["title"]} for i in ids],
                   address=ray_address, work_dir=folder.with_name(folder.name + ".shards"), progress=progress)
        return col
    for start in range(0, len(ids), ADD_BATCH):
        batch = ids[start:start + ADD_BATCH]
        titles = [{"title": data.corpus[i]["title"]} for i in batch]
        with warnings.catch_warnings():  # by default BEIR scores whole documents as the model reads them (its
            warnings.simplefilter("ignore", EmbkitWarning)  # first tokens), one record per corpus id, as published;
            col.add([data.doc_text(i) for i in batch], ids=batch, metadatas=titles, chunk=chunk)  # or chunked
        if progress:
            progress(len(batch))
    return col


def run_queries(col, queries: dict[str, str], mode: str = "dense", depth: int = DEPTH,
                progress: Progress | None = None, documents: bool = False, ignore_identical: bool = False,
                **search) -> dict[str, dict[str, float]]:
    """{qid: {docid: score}}; scores are n − position so ties cannot reorder the ranking.
    Hits are named by their document id; `documents` (a chunked corpus): the best chunk
    of each document only. (Not by default: it fetches deeper candidate lists, which
    moves hybrid fusion's score normalization, and a whole-document corpus needs none.)
    `ignore_identical` (MTEB's ignore_identical_ids): a query's own id is left out of its
    results; one more hit is fetched, so a query still gets `depth` results."""
    run = {}
    for qid, text in queries.items():
        hits = col.search(text, k=depth + 1 if ignore_identical else depth, mode=mode, documents=documents, **search)
        names = [hit.document for hit in hits]
        if ignore_identical:
            names = [name for name in names if name != qid][:depth]
        run[qid] = {name: float(len(names) - position) for position, name in enumerate(names)}
        if progress:
            progress(1)
    return run


def identical_ids(data: BeirData) -> bool:
    """Whether some query id is also a corpus id (queries drawn from the corpus, as in
    ArguAna or Quora): then a query would find itself, and MTEB drops that hit."""
    return any(qid in data.corpus for qid in data.queries)


def eval_retrieval(beir_dir: str | Path, split: str = "test", mode: str = "dense", model: str = "minilm",
                   measures=MEASURES, progress_index: Progress | None = None, progress_queries: Progress | None = None,
                   ray_address: str | None = None, *, collections: Collections, chunk: bool = False,
                   ignore_identical_ids: bool | None = None, prompts: bool = True, **search) -> dict:
    """Index (or reuse) the corpus through `collections`, run the split's queries,
    return a report: {"metrics": {...}, "settings": {...}, "queries": n, "seconds":
    {...}}. With `ray_address`, the corpus is embedded on that Ray cluster. With
    `chunk`, documents longer than the model reads are stored as chunks (as `add`
    does by default) and each document ranks by its best chunk. `ignore_identical_ids`
    (MTEB's): drop a query's own id from its results; None (the default) turns it on
    exactly when some query id is also a corpus id. `prompts` (the default): documents
    and queries carry the model's prompts by role, as the model was trained; False
    embeds them as given, to measure what a missing prompt costs."""
    if mode not in MODES:  # before the slow part
        raise EmbkitError(f"mode: must be one of {', '.join(MODES)}, got {mode!r}")
    if chunk and ray_address is not None:
        raise EmbkitError("chunk: Ray evaluation embeds whole documents; leave out --chunk or --ray-address")
    if not prompts and ray_address is not None and declared_prompts(model):  # Ray's workers would add them
        raise EmbkitError("prompts: Ray evaluation embeds with the model's prompts; leave out --no-prompts or "
                          "--ray-address")
    folder = Path(beir_dir)
    data = load_beir(folder, split)
    if ignore_identical_ids is None:
        ignore_identical_ids = identical_ids(data)
    started = time.perf_counter()
    with contextlib.nullcontext() if prompts else unprompted():  # the corpus, its cache key and the queries alike
        col = corpus_collection(data, folder / "corpus.jsonl", model, progress_index, ray_address,
                                collections=collections, chunk=chunk)
        indexed = time.perf_counter()
        try:
            run = run_queries(col, data.queries, mode, progress=progress_queries, documents=chunk,
                              ignore_identical=ignore_identical_ids, **search)
        finally:
            col.close()
    done = time.perf_counter()
    settings = {"beir": str(folder), "split": split, "mode": mode, "model": model, "depth": DEPTH, "chunk": chunk,
                "ignore_identical_ids": ignore_identical_ids, "prompts": prompts,
                **{key: value for key, value in search.items() if value is not None},
                **({"ray_address": ray_address} if ray_address is not None else {})}
    return {"metrics": evaluate(run, data.qrels, measures), "settings": settings, "queries": len(data.queries),
            "documents": len(data.corpus),
            "seconds": {"index": round(indexed - started, 2), "queries": round(done - indexed, 2)}}


def _safe(model: str) -> str:
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(model))
    if not name:
        raise EmbkitError("model: empty model name")
    return name[-60:]


def _model_stamp(model: str) -> str:
    """For a model on disk, a stamp of its files (names, sizes, modification times), so
    a model retrained in the same folder never reuses the old model's index."""
    path = Path(model).expanduser()
    if not path.exists():
        return ""  # a catalog name: its files come from an installed package
    # the training report is rewritten after a run's own evaluation: it says nothing of the weights
    files = sorted(p for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file() and p.name != TRAIN_REPORT)
    stamp = "\n".join(f"{f.relative_to(path) if f != path else f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}"
                      for f in files)
    return "-" + hashlib.sha256(stamp.encode()).hexdigest()[:8]


def _prompt_stamp(model: str) -> str:
    """A stamp of the document prompt the corpus is embedded with: a run without prompts
    (`prompts.unprompted`, `--no-prompts`) never reuses a prompted corpus, nor the reverse."""
    prompt = declared_prompt(model, "document")
    return "-p" + hashlib.sha256(prompt.encode()).hexdigest()[:8] if prompt else ""


def _remove(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
