"""Contrastive fine-tuning of a bi-encoder with sentence-transformers (CPU), optionally
with Matryoshka dimensions, then an ONNX export for the fast query path.

Checkpoints go to a staging folder beside the output (`.<name>.partial/checkpoints`),
one per epoch; running the same command again resumes from the last one. The output
folder appears, complete, only at the end; it is then registered by name (see
encoders/registry.py) so `--model NAME` and `--model OUT` both work."""

import contextlib
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Sequence

from ..errors import EmbkitError
from .base_model import base_folder
from .evaluation import EvalData, compare
from .output import finish_output, refuse_existing, write_summary
from .pairs import LOSSES, beir_pairs, mine_negatives, read_pairs


def train_contrastive(out: str | Path, base: str = "minilm", *, data: str | Path | None = None,
                      beir: str | Path | None = None, split: str = "train", loss: str = "mnrl",
                      hard_negatives: int = 0, matryoshka: Sequence[int] = (),
                      matryoshka_weights: Sequence[float] = (), epochs: int = 1,
                      batch_size: int = 32, lr: float = 2e-5, seed: int = 0, name: str | None = None,
                      overwrite: bool = False, evaluation: EvalData | None = None, collections=None) -> dict:
    """Fine-tune `base` on pairs (`data`) or a BEIR split (`beir`), save to `out`,
    register it, and evaluate before/after on held-out data. Returns the summary.
    Hard negatives for a BEIR split are mined from its corpus indexed through
    `collections` (`embkit`)."""
    source = base_folder(base)
    dims = _check(loss, data, beir, hard_negatives, matryoshka, epochs, batch_size, lr, source)
    weights = _weights(matryoshka, matryoshka_weights, dims)
    out = Path(out).expanduser()
    refuse_existing(out, overwrite)
    columns, mined_from = _examples(data, beir, split, loss, hard_negatives, seed, collections)
    staging = _staging(out)
    started = time.perf_counter()
    steps = _fit(source, columns, staging, loss, dims, weights, epochs, batch_size, lr, seed)
    seconds = time.perf_counter() - started
    _export_onnx(staging / "model")
    shutil.rmtree(staging / "checkpoints", ignore_errors=True)
    model_dir = staging / "model"
    summary = {"kind": "contrastive", "base": base, "data": str(data or beir), "split": split if beir else None,
               "loss": loss, "examples": len(columns["anchor"]), "hard_negatives": hard_negatives,
               "negatives_mined_with": mined_from, "matryoshka": dims, "matryoshka_weights": weights,
               "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed, "steps": steps,
               "seconds": round(seconds, 1)}
    write_summary(model_dir, summary)
    finish_output(model_dir, out)
    shutil.rmtree(staging, ignore_errors=True)
    from ..encoders.registry import register

    summary["name"] = register(name or out.name, out, dims)
    if evaluation is not None:
        summary["evaluation"] = compare(base, str(out), evaluation, [d for d in dims if d < max(dims)] if dims else ())
    write_summary(out, summary)
    return summary


def _check(loss, data, beir, hard_negatives, matryoshka, epochs, batch_size, lr, source: Path) -> list[int]:
    import json

    if loss not in LOSSES:
        raise EmbkitError(f"loss: must be one of {', '.join(LOSSES)}, got {loss!r}")
    if (data is None) == (beir is None):
        raise EmbkitError("data: give exactly one of a pairs file (--data) or a BEIR folder (--beir)")
    for field, value, low, high in (("hard_negatives", hard_negatives, 0, 20), ("epochs", epochs, 1, 100),
                                    ("batch_size", batch_size, 2, 4096)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise EmbkitError(f"{field}: must be an integer from {low} to {high}, got {value!r}")
    if loss == "cosine" and hard_negatives:
        raise EmbkitError("hard_negatives: the cosine loss scores given pairs; it takes no negatives")
    if loss == "triplet" and hard_negatives > 1:
        raise EmbkitError("hard_negatives: the triplet loss takes one negative per example (use 1)")
    if not isinstance(lr, (int, float)) or not 0 < lr < 1:
        raise EmbkitError(f"lr: must be a number between 0 and 1, got {lr!r}")
    hidden = int(json.loads((source / "config.json").read_text())["hidden_size"])
    dims = sorted({int(d) for d in matryoshka}, reverse=True)
    bad = [d for d in dims if not 1 <= d <= hidden]
    if bad:
        raise EmbkitError(f"matryoshka: dimension {bad[0]} is outside 1..{hidden} (the base model's dimension)")
    if dims and dims[0] != hidden:
        dims.insert(0, hidden)  # the full dimension is always trained too
    return dims


def _weights(matryoshka, weights, dims: list[int]) -> list[float]:
    """One loss weight per trained dimension (default 1 each), matched to `dims` order.
    Weights follow the user's --matryoshka order; the full dimension, when added, gets 1."""
    weights = [float(w) for w in weights]
    if not weights:
        return [1.0] * len(dims)
    given = [int(d) for d in matryoshka]
    if len(weights) != len(given):
        raise EmbkitError(f"matryoshka_weights: expected {len(given)} weights (one per --matryoshka dimension), "
                          f"got {len(weights)}")
    if any(not w > 0 for w in weights):
        raise EmbkitError("matryoshka_weights: every weight must be a positive number")
    by_dim = dict(zip(given, weights))
    return [by_dim.get(d, 1.0) for d in dims]


def _staging(out: Path) -> Path:
    """The staging folder, kept when it holds checkpoints of an interrupted run."""
    staging = out.parent / f".{out.name}.partial"
    if not (staging / "checkpoints").is_dir():
        shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True, exist_ok=True)
    return staging


def _examples(data, beir, split, loss, hard_negatives, seed, collections) -> tuple[dict, str | None]:
    if data is not None:
        columns = read_pairs(data, loss)
        if hard_negatives and "negative" not in columns:
            mine_negatives(columns, _pairs_searcher(columns["positive"]), hard_negatives, seed=seed)
            return columns, "dense search over the file's positives"
        if loss == "triplet" and "negative" not in columns:
            raise EmbkitError("negative: the triplet loss needs a negative per example; add them or --hard-negatives 1")
        return columns, None
    columns, beir_data = beir_pairs(beir, split)
    if loss == "cosine":
        raise EmbkitError("loss: a BEIR folder gives (query, document) pairs without scores; use mnrl or triplet")
    if hard_negatives:
        from ..evaluate.retrieval import corpus_collection

        if collections is None:
            raise EmbkitError("collections: mining hard negatives from a BEIR corpus needs collections=embkit")
        col = corpus_collection(beir_data, Path(beir) / "corpus.jsonl", collections=collections)
        try:
            mine_negatives(columns, lambda q, n: [h.text for h in col.search(q, k=n, mode="hybrid")],
                           hard_negatives, seed=seed)
        finally:
            col.close()
        return columns, "embkit hybrid search over the corpus"
    if loss == "triplet":
        raise EmbkitError("hard_negatives: the triplet loss needs negatives; use --hard-negatives 1")
    return columns, None


def _pairs_searcher(texts: list[str]):
    """Dense search over the distinct positives, with the packaged MiniLM."""
    import numpy as np

    from ..encoders import load_encoder
    from ..search.exact import top_k

    unique = list(dict.fromkeys(texts))
    encoder = load_encoder("minilm")
    vectors = encoder.encode(unique)

    def search(query: str, n: int) -> list[str]:
        positions, _ = top_k(encoder.encode([query]), vectors, min(n, len(unique)), "cosine")
        return [unique[i] for i in np.asarray(positions[0])]

    return search


def _fit(source: Path, columns: dict, staging: Path, loss: str, dims: list[int], weights: list[float],
         epochs: int, batch_size: int, lr: float, seed: int) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer import losses
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    torch.manual_seed(seed)
    model = SentenceTransformer(str(source), device="cpu", local_files_only=True)
    objective = {"mnrl": lambda: losses.MultipleNegativesRankingLoss(model),
                 "triplet": lambda: losses.TripletLoss(model),
                 "cosine": lambda: losses.CosineSimilarityLoss(model)}[loss]()
    if dims:
        objective = losses.MatryoshkaLoss(model, objective, matryoshka_dims=dims, matryoshka_weights=weights)
    if loss == "cosine":
        columns = {"sentence1": columns["sentence1"], "sentence2": columns["sentence2"], "score": columns["score"]}
    checkpoints = staging / "checkpoints"
    args = SentenceTransformerTrainingArguments(
        output_dir=str(checkpoints), num_train_epochs=epochs, per_device_train_batch_size=batch_size,
        learning_rate=lr, warmup_ratio=0.1, seed=seed, data_seed=seed, save_strategy="epoch", save_total_limit=1,
        logging_steps=10, report_to=[], use_cpu=True, dataloader_num_workers=0,
        # in-batch negatives must not repeat the anchor's own positive
        batch_sampler=BatchSamplers.NO_DUPLICATES if loss == "mnrl" else BatchSamplers.BATCH_SAMPLER)
    dataset = Dataset.from_dict(columns).shuffle(seed=seed)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset, loss=objective)
    resume = any(checkpoints.glob("checkpoint-*"))
    with contextlib.redirect_stdout(sys.stderr):  # the trainer prints its logs; stdout is for results
        trainer.train(resume_from_checkpoint=True if resume else None)
    model.save(str(staging / "model"))
    return int(trainer.state.global_step)


def _export_onnx(model_dir: Path) -> None:
    """model.onnx (and its weights file, model.onnx.data) beside the weights: the query
    path then runs on onnxruntime, no torch."""
    from ..encoders import export
    from ..encoders.onnx_weights import copy_apart

    copy_apart(export.fp32_onnx(model_dir), model_dir / "model.onnx")

