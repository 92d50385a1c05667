"""Real data the tests share (a plain module: `conftest` names clash between folders).

`DATA` holds the full sets (scifact/, stsb/, banking77/, cranfield/) from the repo's own
gzipped copy in tests/data/, so a clone runs the same tests as CI (no ../shared needed)."""

from pathlib import Path

from packed_data import unpack

REPO = Path(__file__).resolve().parent.parent
DATA = unpack()


def two_sources(n: int) -> tuple[list[str], list[str]]:
    """n SciFact abstract openings (300 characters) and n BANKING77 queries, with their
    source as the label: a corpus of two clearly different kinds of text."""
    import csv
    import json

    corpus, banking = DATA / "scifact" / "corpus.jsonl", DATA / "banking77" / "train.csv"
    with open(corpus, encoding="utf-8") as f:
        science = [json.loads(next(f))["text"][:300] for _ in range(n)]
    with open(banking, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    queries = [r["text"] for r in rows[::len(rows) // n][:n]]
    return science + queries, ["scifact"] * n + ["banking77"] * n
