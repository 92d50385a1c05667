"""Train a cross-encoder reranker from the packaged MiniLM on a BEIR split.

(query, positive, hard negatives) come from the split's qrels; the negatives are mined
with embkit's own hybrid search over the corpus, so the reranker learns to fix exactly
the mistakes the first stage makes. Only the split's queries are read: test queries
are never trained on. Saved in sentence-transformers `CrossEncoder` format."""

import json
import random
from pathlib import Path
from typing import Callable

from ..encoders.catalog import CATALOG, package_dir
from ..errors import EmbkitError
from ..evaluate.beir import load_beir
from ..evaluate.retrieval import corpus_collection

Progress = Callable[[int], None]


def mine_triples(col, data, negatives: int, depth: int, seed: int,
                 progress: Progress | None = None) -> list[tuple[str, str, list[str]]]:
    """(query, positive text, negative texts): negatives are drawn from the top `depth`
    hybrid results that the qrels do not mark relevant, the highest ranked first."""
    rng = random.Random(seed)
    triples = []
    for qid, query in data.queries.items():
        relevant = {d for d, gain in data.qrels.get(qid, {}).items() if gain > 0}
        hits = col.search(query, k=depth, mode="hybrid")
        pool = [h.text for h in hits if h.id not in relevant and (h.parent or h.id) not in relevant]
        # mostly the hardest, plus a few from deeper down so the model also sees easy cases
        hard = pool[:negatives // 2] + rng.sample(pool[negatives // 2:], min(len(pool) - negatives // 2,
                                                                          negatives - negatives // 2))
        for docid in sorted(relevant):
            if docid in data.corpus:
                triples.append((query, data.doc_text(docid), hard))
        if progress:
            progress(1)
    if not triples:
        raise EmbkitError("beir: the split has no (query, relevant document) pairs to train on")
    return triples


def train_reranker(beir_dir: str | Path, out: str | Path, base: str = "minilm", split: str = "train",
                   negatives: int = 7, depth: int = 30, epochs: int = 1, batch_size: int = 16, lr: float = 2e-5,
                   max_length: int = 256, seed: int = 0, progress: Progress | None = None) -> dict:
    """Mine triples, fine-tune a cross-encoder from `base` and save it in `out`.
    Returns a summary (pairs, epochs, seconds, settings) also written to `out/embkit-train.json`."""
    import time

    out = Path(out)
    if split == "test":
        raise EmbkitError("split: refusing to train on the test split (it is what the reranker is evaluated on)")
    started = time.perf_counter()
    data = load_beir(Path(beir_dir), split)
    col = corpus_collection(data, Path(beir_dir) / "corpus.jsonl")
    try:
        triples = mine_triples(col, data, negatives, depth, seed)
    finally:
        col.close()
    mined = time.perf_counter()
    _fit(_base_folder(base), triples, out, epochs, batch_size, lr, max_length, seed)
    summary = {"base": base, "beir": str(beir_dir), "split": split, "queries": len(data.queries),
               "triples": len(triples), "pairs": sum(1 + len(n) for _, _, n in triples), "negatives": negatives,
               "depth": depth, "epochs": epochs, "batch_size": batch_size, "lr": lr, "max_length": max_length,
               "seed": seed, "seconds": {"mining": round(mined - started, 1),
                                         "training": round(time.perf_counter() - mined, 1)}}
    (out / "embkit-train.json").write_text(json.dumps(summary, indent=1))
    return summary


def _base_folder(base: str) -> Path:
    entry = CATALOG.get(base)
    if entry is not None:
        if entry.missing():
            raise EmbkitError(f"base: model {base!r} is not installed: {entry.install}")
        return package_dir(entry.module) / "model"  # the transformer weights every MiniLM entry shares
    folder = Path(base).expanduser()
    if not (folder / "config.json").is_file():
        raise EmbkitError(f"base: {base!r} is neither a catalog model nor a model folder with config.json")
    return folder


def _fit(base: Path, triples, out: Path, epochs: int, batch_size: int, lr: float, max_length: int, seed: int):
    """Binary cross-entropy on (query, passage, 1/0) pairs with the ST trainer."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (CrossEncoder, CrossEncoderTrainer,
                                                     CrossEncoderTrainingArguments)
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    torch.manual_seed(seed)
    rows = {"query": [], "passage": [], "label": []}
    for query, positive, hard in triples:
        for passage, label in [(positive, 1.0)] + [(n, 0.0) for n in hard]:
            rows["query"].append(query)
            rows["passage"].append(passage)
            rows["label"].append(label)
    dataset = Dataset.from_dict(rows).shuffle(seed=seed)
    model = CrossEncoder(str(base), num_labels=1, max_length=max_length, device="cpu", local_files_only=True)
    negatives = max(1, len(rows["label"]) - int(sum(rows["label"])))
    loss = BinaryCrossEntropyLoss(model, pos_weight=torch.tensor(negatives / max(1, int(sum(rows["label"])))))
    args = CrossEncoderTrainingArguments(
        output_dir=str(out / "checkpoints"), num_train_epochs=epochs, per_device_train_batch_size=batch_size,
        learning_rate=lr, warmup_ratio=0.1, seed=seed, data_seed=seed, save_strategy="epoch", save_total_limit=1,
        logging_steps=50, report_to=[], use_cpu=True, dataloader_num_workers=0, disable_tqdm=False)
    CrossEncoderTrainer(model=model, args=args, train_dataset=dataset, loss=loss).train()
    model.save_pretrained(str(out))
