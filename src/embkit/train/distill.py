"""Distillation to a static model with model2vec: every token of the base model's
vocabulary is run through the transformer once, the outputs reduced with PCA and
weighted by token frequency (SIF). Texts are then embedded by averaging token
vectors: no transformer at query time. Offline: the base is a local folder (the
packaged MiniLM for `minilm`)."""

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Callable

from ..errors import EmbkitError
from .base_model import base_folder
from .evaluation import EvalData, compare
from .output import finish_output, prepare_output, write_summary

Progress = Callable[[int], None]
SPEED_TEXTS = 2_000  # STS-B sentences timed for the speed comparison


def train_distill(out: str | Path, base: str = "minilm", *, pca_dims: int = 256, overwrite: bool = False,
                  evaluation: EvalData | None = None) -> dict:
    """Distill `base` into `out` (a model2vec folder usable as --model), then compare
    it with the base: quality on held-out data and sentences per second."""
    if isinstance(pca_dims, bool) or not isinstance(pca_dims, int) or pca_dims < 2:
        raise EmbkitError(f"pca_dims: must be an integer of at least 2, got {pca_dims!r}")
    source = base_folder(base)
    hidden = _hidden_size(source)
    if pca_dims > hidden:
        raise EmbkitError(f"pca_dims: {pca_dims} is more than the base model's {hidden} dimensions")
    out = Path(out).expanduser()
    staging = prepare_output(out, overwrite)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    try:
        from model2vec.distill import distill

        with contextlib.redirect_stdout(sys.stderr):  # model2vec prints; stdout is for results
            model = distill(model_name=str(source), pca_dims=pca_dims)
        model.save_pretrained(str(staging))
    except BaseException:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
        raise
    seconds = time.perf_counter() - started
    finish_output(staging, out)
    summary = {"kind": "distill", "base": base, "pca_dims": pca_dims, "seconds": round(seconds, 1),
               "speed": speed(base, str(out), evaluation),
               "evaluation": compare(base, str(out), evaluation) if evaluation else {}}
    write_summary(out, summary)
    return summary


def speed(base: str, distilled: str, evaluation: EvalData | None) -> dict | None:
    """Sentences per second of each model on the same STS-B sentences (one process,
    one after the other: a rough figure; benchmarks/ has the careful one)."""
    if evaluation is None or evaluation.sts is None:
        return None
    from ..encoders import load_encoder
    from ..evaluate.sts import load_sts

    texts = load_sts(evaluation.sts).texts[:SPEED_TEXTS]
    rates = {}
    for label, name in (("base", base), ("distilled", distilled)):
        encoder = load_encoder(name)
        encoder.encode(texts[:64])  # warm up (graph load, first allocations)
        started = time.perf_counter()
        encoder.encode(texts, batch_size=64)
        rates[label] = round(len(texts) / (time.perf_counter() - started), 1)
    rates["ratio"] = round(rates["distilled"] / rates["base"], 1)
    return rates


def _hidden_size(folder: Path) -> int:
    import json

    return int(json.loads((folder / "config.json").read_text())["hidden_size"])
