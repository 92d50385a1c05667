"""The evaluation every training command ends with: the model before and after, on
data it did not train on (STS-B test, a BEIR test split), side by side."""

import time
from pathlib import Path
from typing import Callable, Sequence

from ..errors import EmbkitError

Progress = Callable[[int], None]


class EvalData:
    """Where the held-out data is; `None` leaves a check out. Checked before training.
    A BEIR check indexes its corpus through `collections` (`embkit`: training sits
    below collection.py, so the caller hands it in)."""

    def __init__(self, sts: str | Path | None = None, beir: str | Path | None = None, split: str = "test",
                 collections=None):
        self.sts = Path(sts) if sts else None
        self.beir = Path(beir) if beir else None
        self.split, self.collections = split, collections
        if self.beir is not None and collections is None:
            raise EmbkitError("collections: a BEIR evaluation needs collections=embkit to index its corpus")
        if self.sts is not None and not (self.sts / "sts-test.csv").is_file():
            raise EmbkitError(f"eval_sts: {self.sts / 'sts-test.csv'} not found (the STS Benchmark folder)")
        if self.beir is not None:
            from ..evaluate.beir import load_beir

            load_beir(self.beir, split)  # fails fast on missing files or a missing split


def compare(before: str, after: str, data: EvalData, dims: Sequence[int] = ()) -> dict:
    """Metrics of the `before` and `after` models (names or folders); with `dims`
    (Matryoshka), the after model's retrieval is also measured truncated to each."""
    out = {}
    if data.sts is not None:
        out["sts_spearman"] = {"data": str(data.sts), "before": _sts(before, data.sts), "after": _sts(after, data.sts)}
    if data.beir is not None:
        out["retrieval"] = {"data": str(data.beir), "split": data.split, "mode": "dense",
                            "before": _retrieval(before, data), "after": _retrieval(after, data)}
        for dim in dims:  # the base truncated too, for comparison
            out["retrieval"][f"before@{dim}"] = _retrieval(before, data, dim)
            out["retrieval"][f"after@{dim}"] = _retrieval(after, data, dim)
    return out


def _sts(model: str, folder: Path) -> float:
    from ..evaluate.sts import eval_sts

    return eval_sts(folder, model)["metrics"]["spearman"]


def _retrieval(model: str, data: EvalData, dims: int | None = None) -> dict:
    from ..evaluate.retrieval import eval_retrieval

    started = time.perf_counter()
    options = {"dims": dims, "rescore": 1} if dims else {}  # the truncated vectors alone, not rescored
    report = eval_retrieval(data.beir, data.split, "dense", model=model, collections=data.collections, **options)
    seconds = round(time.perf_counter() - started, 1)
    return {**{k: round(v, 4) for k, v in report["metrics"].items()}, "seconds": seconds}


def table(evaluation: dict) -> list[str]:
    """Lines of a before/after table for the terminal."""
    lines = [f"{'':<34}{'before':>10}{'after':>10}"]
    if "sts_spearman" in evaluation:
        s = evaluation["sts_spearman"]
        lines.append(f"{'STS-B test Spearman':<34}{s['before']:>10.4f}{s['after']:>10.4f}")
    if "retrieval" in evaluation:
        r = evaluation["retrieval"]
        name = Path(r["data"]).name
        for metric in ("ndcg@10", "recall@100"):
            label = f"{name} {r['split']} {metric}"
            lines.append(f"{label:<34}{r['before'][metric]:>10.4f}{r['after'][metric]:>10.4f}")
        for key in (k for k in r if k.startswith("after@")):
            label = f"{name} nDCG@10 at {key[6:]} dims"
            lines.append(f"{label:<34}{r['before' + key[5:]]['ndcg@10']:>10.4f}{r[key]['ndcg@10']:>10.4f}")
    return lines
