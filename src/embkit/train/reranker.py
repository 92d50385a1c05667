"""Train a cross-encoder reranker from the packaged MiniLM on a BEIR split.

(query, positive, hard negatives) come from the split's qrels; the negatives are mined
with embkit's own hybrid search over the corpus, so the reranker learns to fix exactly
the mistakes the first stage makes. Only the split's queries are read: test queries
are never trained on. A slice of the split's queries is held out of training and used
to choose how much the reranker's score is trusted against the first stage's (the
`blend` weight, saved with the model and applied by `search(rerank=...)`). Saved in
sentence-transformers `CrossEncoder` format."""

import contextlib
import json
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import EmbkitError
from ..evaluate.beir import load_beir
from ..evaluate.metrics import ndcg
from ..evaluate.retrieval import Collections, corpus_collection
from ..search.rerank import TRAIN_INFO, blend_scores, rerank_scores
from .base_model import base_folder

Progress = Callable[[int], None]
LOSSES = ("mnrl", "bce")
BLEND_GRID = [round(w, 1) for w in np.linspace(0, 1, 11)]


def mine_triples(col, data, negatives: int, depth: int, seed: int, queries=None,
                 progress: Progress | None = None) -> list[tuple[str, str, list[str]]]:
    """(query, positive text, negative texts): negatives are drawn from the top `depth`
    hybrid results that the qrels do not mark relevant, the highest ranked first."""
    rng = random.Random(seed)
    triples = []
    for qid in queries if queries is not None else data.queries:
        query = data.queries[qid]
        relevant = {d for d, gain in data.qrels.get(qid, {}).items() if gain > 0}
        hits = col.search(query, k=depth, mode="hybrid")
        pool = [h.text for h in hits if h.id not in relevant and (h.parent or h.id) not in relevant]
        # mostly the hardest, plus a few from deeper down so the model also sees easier cases
        head = negatives - negatives // 3
        hard = pool[:head] + rng.sample(pool[head:], min(len(pool) - head, negatives - head))
        for docid in sorted(relevant):
            if docid in data.corpus and len(hard) == negatives:
                triples.append((query, data.doc_text(docid), hard))
        if progress:
            progress(1)
    if not triples:
        raise EmbkitError("beir: the split has no (query, relevant document) pairs to train on")
    return triples


def title_triples(col, data, count: int, negatives: int, depth: int, seed: int,
                  progress: Progress | None = None) -> list[tuple[str, str, list[str]]]:
    """Pseudo-queries from the corpus itself: a document's title as the query, its
    body as the positive, and hybrid hits for the title (other documents) as negatives.
    Unlabelled corpus text only, so it adds in-domain examples without any test query."""
    rng = random.Random(seed + 1)
    docids = sorted(d for d, doc in data.corpus.items() if doc.get("title") and doc.get("text"))
    rng.shuffle(docids)
    triples = []
    for docid in docids[:count]:
        title = data.corpus[docid]["title"]
        hits = col.search(title, k=depth, mode="hybrid")
        pool = [h.text for h in hits if (h.parent or h.id) != docid]
        head = negatives - negatives // 3
        if len(pool) >= negatives:
            hard = pool[:head] + rng.sample(pool[head:], negatives - head)
            triples.append((title, data.corpus[docid]["text"], hard))
        if progress:
            progress(1)
    return triples


def train_reranker(beir_dir: str | Path, out: str | Path, base: str = "minilm", split: str = "train",
                   negatives: int = 3, depth: int = 30, epochs: int = 1, batch_size: int = 8, lr: float = 1e-4,
                   loss: str = "mnrl", holdout: int = 100, rerank_depth: int = 20, max_length: int = 160,
                   pseudo_queries: int = 1500, repeat: int = 2, seed: int = 0,
                   progress: Progress | None = None, *, collections: Collections) -> dict:
    """Mine triples (`progress` advances per query) from the corpus indexed through
    `collections` (`embkit`), fine-tune a cross-encoder from
    `base` (the trainer draws its own progress bar), choose the blend weight on the
    `holdout` queries, and save everything in `out`. `pseudo_queries` adds that many
    title → body examples from the corpus; `repeat` shows each labelled query that many
    times (more passes over the scarce real queries than over the pseudo ones).
    Returns a summary, also written to `out/embkit-train.json`."""
    out = Path(out)
    if split == "test":
        raise EmbkitError("split: refusing to train on the test split (it is what the reranker is evaluated on)")
    if loss not in LOSSES:
        raise EmbkitError(f"loss: must be one of {', '.join(LOSSES)}, got {loss!r}")
    started = time.perf_counter()
    data = load_beir(Path(beir_dir), split)
    qids = sorted(data.queries)
    random.Random(seed).shuffle(qids)
    held, trained_on = (qids[:holdout], qids[holdout:]) if 0 < holdout < len(qids) else ([], qids)
    col = corpus_collection(data, Path(beir_dir) / "corpus.jsonl", collections=collections)
    try:
        triples = mine_triples(col, data, negatives, depth, seed, trained_on, progress) * max(1, repeat)
        triples = title_triples(col, data, pseudo_queries, negatives, depth, seed, progress) + triples
        mined = time.perf_counter()
        _fit(base_folder(base), triples, out, loss, epochs, batch_size, lr, max_length, seed)
        fitted = time.perf_counter()
        blend, tuning = _choose_blend(col, data, held, out, rerank_depth) if held else (None, {})
    finally:
        col.close()
    summary = {"base": base, "beir": str(beir_dir), "split": split, "queries": len(trained_on), "holdout": len(held),
               "triples": len(triples), "pseudo_queries": pseudo_queries, "repeat": repeat, "negatives": negatives,
               "depth": depth, "loss": loss, "epochs": epochs, "batch_size": batch_size, "lr": lr,
               "max_length": max_length, "seed": seed, "blend": blend, "rerank_depth": rerank_depth,
               "holdout_ndcg@10": tuning,
               "seconds": {"mining": round(mined - started, 1), "training": round(fitted - mined, 1),
                           "blend": round(time.perf_counter() - fitted, 1)}}
    (out / TRAIN_INFO).write_text(json.dumps(summary, indent=1))
    return summary


def _choose_blend(col, data, held: list[str], out: Path, rerank_depth: int) -> tuple[float, dict]:
    """The weight of the reranker's score (0 = first stage only, 1 = reranker only)
    with the best nDCG@10 on the held-out training queries."""
    from ..search.rerank import load_reranker

    model = load_reranker(out)
    cached = []
    for qid in held:
        hits = col.search(data.queries[qid], k=rerank_depth, mode="hybrid")
        cached.append((qid, hits, rerank_scores(model, data.queries[qid], [h.text for h in hits])))
    tuning = {}
    for weight in BLEND_GRID:
        run = {}
        for qid, hits, ce in cached:
            scores = blend_scores(np.array([h.score for h in hits]), ce, weight)
            run[qid] = {h.id: float(s) for h, s in zip(hits, scores)}
        qrels = {qid: data.qrels[qid] for qid in held if qid in data.qrels}
        tuning[str(weight)] = round(float(np.mean(list(ndcg(run, qrels, 10).values()))), 4)
    best = max(BLEND_GRID, key=lambda w: (tuning[str(w)], w))
    return best, tuning


def _fit(base: Path, triples, out: Path, loss: str, epochs: int, batch_size: int, lr: float, max_length: int,
         seed: int) -> None:
    """Listwise (the positive against its hard negatives and two in-batch ones, softmax)
    or pointwise binary cross-entropy, with the sentence-transformers trainer."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from datasets import Dataset
    from sentence_transformers.cross_encoder import CrossEncoder, CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss, MultipleNegativesRankingLoss

    torch.manual_seed(seed)
    model = CrossEncoder(str(base), num_labels=1, max_length=max_length, device="cpu", local_files_only=True)
    if loss == "mnrl":
        columns = {"query": [q for q, _, _ in triples], "positive": [p for _, p, _ in triples]}
        for i in range(len(triples[0][2])):
            columns[f"negative_{i + 1}"] = [n[i] for _, _, n in triples]
        objective = MultipleNegativesRankingLoss(model, num_negatives=2)
    else:
        columns = {"query": [], "passage": [], "label": []}
        for query, positive, hard in triples:
            for passage, label in [(positive, 1.0)] + [(n, 0.0) for n in hard]:
                columns["query"].append(query)
                columns["passage"].append(passage)
                columns["label"].append(label)
        objective = BinaryCrossEntropyLoss(model, pos_weight=torch.tensor(float(len(triples[0][2]))))
    args = CrossEncoderTrainingArguments(
        output_dir=str(out / "checkpoints"), num_train_epochs=epochs, per_device_train_batch_size=batch_size,
        learning_rate=lr, warmup_ratio=0.1, seed=seed, data_seed=seed, save_strategy="epoch", save_total_limit=1,
        logging_steps=25, report_to=[], use_cpu=True, dataloader_num_workers=0, disable_tqdm=False)
    dataset = Dataset.from_dict(columns).shuffle(seed=seed)
    with contextlib.redirect_stdout(sys.stderr):  # the trainer prints its logs; stdout is for results
        CrossEncoderTrainer(model=model, args=args, train_dataset=dataset, loss=objective).train()
    model.save_pretrained(str(out))
    shutil.rmtree(out / "checkpoints", ignore_errors=True)  # the saved model supersedes them
