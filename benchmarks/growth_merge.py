"""Merge growth benchmark runs into one report: the 10k/100k run and the 1M run are made
by separate `bench_growth.py` commands (the 1M one alone takes most of an hour), but
issue 21 asks for one table and one log-log plot from 10k to 1M. The runs must share
the vectors' model and dimension; a size measured twice keeps the later file's run.

    .venv/bin/python benchmarks/growth_merge.py benchmarks/results/growth.json \
        benchmarks/results/growth-1m.json --out benchmarks/results/growth-all

writes OUT.json, OUT.md and OUT.png (as growth_report.write does), with every command."""

import argparse
import json
import sys
from pathlib import Path

from growth_report import write


def merge(results: list[dict]) -> dict:
    """One result holding every run of `results` (later files win for the same size,
    side and model), their payloads and their commands joined by ` ; `."""
    first = results[0]
    for other in results[1:]:
        if (other["dim"], Path(other["static_model"]).name) != (first["dim"], Path(first["static_model"]).name):
            raise SystemExit(f"runs differ: {other['dim']}-d {other['static_model']} vs "
                             f"{first['dim']}-d {first['static_model']}")
    runs: dict[tuple, dict] = {}
    payload: dict[str, dict] = {}
    for result in results:
        runs.update({(r["n"], r["side"], r["model"]): r for r in result["runs"]})
        payload.update(result["payload"])
    return {**first, "command": " ; ".join(r["command"] for r in results),
            "settings": [r["settings"] for r in results], "payload": payload,
            "runs": [runs[key] for key in sorted(runs, key=lambda k: (k[0], k[2] != "static", k[1] != "embkit"))]}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", nargs="+", type=Path, help="bench_growth.py OUT.json files, in order")
    p.add_argument("--out", type=Path, required=True, help="OUT.json, OUT.md, OUT.png")
    args = p.parse_args(argv)
    write(merge([json.loads(path.read_text()) for path in args.results]), args.out)
    print(f"wrote {args.out.with_suffix('.md')} and {args.out.with_suffix('.png')}", file=sys.stderr)


if __name__ == "__main__":
    main()
