"""What every embedding-quality task shares: embed its texts once, score the vectors,
and report the metrics next to a published reference, as JSON and as a table.

A task (sts, classify, cluster) is a small object with `name`, `dataset`, `split`, `n`
(pairs or examples scored), `texts` (each distinct text once: the only thing embedded),
`settings` (its protocol), `mteb_task` (the MTEB task it reproduces, or None when the
data or the protocol differ) and `score(vectors) -> {metric: value}`.
"""

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from ..encoders.base import Encoder
from ..encoders.prompts import check_role, encode_as

Progress = Callable[[int], None]

# MTEB's published figures for sentence-transformers/all-MiniLM-L6-v2, which every
# `minilm*` catalog entry runs: STSBenchmark test cosine Spearman (as given in
# shared/data/README) and Banking77Classification test (mteb's results file,
# mteb 1.2.1; its "stderr" is the standard deviation over the 10 experiments).
REFERENCE_MODEL = "all-MiniLM-L6-v2"
REFERENCE_MODELS = ("minilm", "minilm-int8", "minilm-torch", "minilm-bf16")
REFERENCES = {
    "STSBenchmark": {"spearman": 0.820},
    "Banking77Classification": {"accuracy": 0.800422, "macro_f1": 0.793788, "accuracy_std": 0.007620,
                                "macro_f1_std": 0.008721},
}


class Task(Protocol):
    name: str
    dataset: str
    split: str
    n: int
    texts: list[str]
    settings: dict
    mteb_task: str | None

    def score(self, vectors: np.ndarray) -> dict[str, float]:
        """Metrics from the vectors of `texts`, row for row."""
        ...


def reference(mteb_task: str | None, model: str) -> dict | None:
    """MTEB's published metrics for this MTEB task and model, when there are any."""
    metrics = REFERENCES.get(mteb_task or "")
    if metrics is None or model not in REFERENCE_MODELS:
        return None
    return {"source": "MTEB", "task": mteb_task, "model": REFERENCE_MODEL, "metrics": dict(metrics)}


def run_task(task: Task, model: Encoder | str = "minilm", progress: Progress | None = None,
             batch_size: int = 32, role: str | None = None) -> dict:
    """Embed the task's texts with `model` (a catalog name, a folder, a word-vector file
    or an encoder) and score them: a JSON-ready report. `role` ("query", "document"):
    every text with the model's prompt for that role (E5 wants "query: " on both sides
    of a symmetric task); None: as given."""
    from ..encoders import load_encoder

    role = check_role(role)
    encoder = load_encoder(model) if isinstance(model, str) else model
    started = time.perf_counter()
    vectors = encode_as(encoder, task.texts, role, batch_size, progress)
    embedded = time.perf_counter()
    metrics = task.score(vectors)
    done = time.perf_counter()
    return {"task": task.name, "dataset": task.dataset, "split": task.split, "model": encoder.name,
            "metrics": {k: round(float(v), 6) for k, v in metrics.items()},
            "reference": reference(task.mteb_task, encoder.name), "n": task.n, "texts_embedded": len(task.texts),
            "settings": task.settings if role is None else {**task.settings, "role": role},
            "seconds": {"embed": round(embedded - started, 2), "score": round(done - embedded, 2)}}


def write_report(report: dict, path: str | Path) -> None:
    """The report as indented JSON."""
    Path(path).write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def format_table(report: dict) -> str:
    """A readable table: each metric, and the published reference beside it."""
    ref = report["reference"] or {"metrics": {}}
    ref_title = f"{ref['source']} {ref['model']}" if report["reference"] else "reference"
    seconds = sum(report["seconds"].values())
    lines = [f"{report['dataset']} [{report['split']}] n={report['n']}, model {report['model']}, {seconds:.1f}s",
             f"{'metric':<16}{'embkit':>10}  {ref_title}"]
    for name, value in report["metrics"].items():
        published = ref["metrics"].get(name)
        lines.append(f"{name:<16}{value:>10.4f}  {'-' if published is None else f'{published:.4f}'}")
    return "\n".join(lines)


def unique_texts(*groups: list[str]) -> tuple[list[str], dict[str, int]]:
    """Each distinct text once (first-seen order) and its row, so nothing is embedded twice."""
    rows: dict[str, int] = {}
    for group in groups:
        for text in group:
            rows.setdefault(text, len(rows))
    return list(rows), rows
