"""Retrieval quality on BEIR folders: every search mode, and hybrid + a trained reranker.

    EMBKIT_HOME=/tmp/ehome .venv/bin/python benchmarks/bench_retrieval.py \
        [--data ../shared/data] [--sets scifact,cranfield] [--reranker DIR] [--rerank 20]

Runs `embkit.evaluate.retrieval.eval_retrieval` (the code behind `embkit eval retrieval`)
for dense, keyword and hybrid (default fusion; and RRF k=60 for reference), then hybrid
reranked, on each set's test split; prints a markdown table per set and writes
`benchmarks/results/bench_retrieval.json`. The corpus index is cached under EMBKIT_HOME.
"""

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import embkit  # noqa: E402
from embkit.evaluate.retrieval import MEASURES, eval_retrieval  # noqa: E402

HERE = Path(__file__).resolve().parent
TARGETS = {"scifact": {"dense": (0.640, 0.650), "keyword": (0.68, None), "hybrid": (0.72, None),
                       "hybrid + rerank": (0.74, None)}}


def runs(reranker: str | None, rerank: int):
    yield "dense", {"mode": "dense"}
    yield "keyword", {"mode": "keyword"}
    yield "hybrid", {"mode": "hybrid"}
    yield "hybrid (RRF k=60)", {"mode": "hybrid", "rrf_k": 60}
    if reranker:
        yield "hybrid + rerank", {"mode": "hybrid", "rerank": rerank, "reranker": reranker}


def table(name: str, rows: list[dict]) -> str:
    lines = [f"**{name}** (test split)", "", "| mode | " + " | ".join(MEASURES) + " | target | seconds |",
             "|---|" + "---|" * (len(MEASURES) + 2)]
    for row in rows:
        low, high = TARGETS.get(name, {}).get(row["label"], (None, None))
        ndcg = row["metrics"]["ndcg@10"]
        target = "" if low is None else (f"{low}–{high}" if high else f"≥ {low}")
        if low is not None:
            target += " ok" if ndcg >= low and (high is None or ndcg <= high) else " MISS"
        lines.append(f"| {row['label']} | " + " | ".join(f"{row['metrics'][m]:.4f}" for m in MEASURES)
                     + f" | {target} | {row['seconds']['queries']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data"))
    p.add_argument("--sets", default="scifact,cranfield")
    p.add_argument("--reranker", default=None, help="cross-encoder folder (from `embkit train reranker`)")
    p.add_argument("--rerank", type=int, default=20, help="hits to rerank (the depth the blend was tuned at)")
    p.add_argument("--out", default=str(HERE / "results" / "bench_retrieval.json"))
    args = p.parse_args()
    started, report = time.perf_counter(), {"command": "benchmarks/bench_retrieval.py", "args": vars(args), "sets": {}}
    for name in args.sets.split(","):
        rows = []
        for label, settings in runs(args.reranker, args.rerank):
            result = eval_retrieval(Path(args.data) / name, "test", collections=embkit, **settings)
            rows.append({"label": label, **result})
            print(f"{name:<10} {label:<20} " + "  ".join(f"{m} {result['metrics'][m]:.4f}" for m in MEASURES),
                  flush=True)
        report["sets"][name] = rows
        print("\n" + table(name, rows) + "\n", flush=True)
    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(f"written to {args.out} in {report['elapsed_s']:.0f} s")


if __name__ == "__main__":
    main()
