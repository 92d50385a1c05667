"""A small real BEIR folder cut from SciFact: every test query's relevant documents plus
a fixed sample of the rest, so retrieval is non-trivial and runs in seconds."""

import json
import random
from pathlib import Path

from corpora import DATA


def _jsonl(path: Path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def cut_scifact(root: Path, n_test: int = 30, n_train: int = 20, n_other: int = 250) -> Path:
    source = DATA / "scifact"
    corpus = {d["_id"]: d for d in _jsonl(source / "corpus.jsonl")}
    queries = {q["_id"]: q for q in _jsonl(source / "queries.jsonl")}
    qrels, keep = {}, set()
    for split, n in (("test", n_test), ("train", n_train)):
        rows = [line.split("\t") for line in (source / "qrels" / f"{split}.tsv").read_text().splitlines()[1:]]
        chosen = sorted({r[0] for r in rows}, key=int)[:n]
        qrels[split] = [r for r in rows if r[0] in chosen]
        keep |= {r[1] for r in qrels[split]}
    keep |= set(random.Random(0).sample(sorted(set(corpus) - keep), n_other))
    root.mkdir(parents=True, exist_ok=True)
    (root / "qrels").mkdir(exist_ok=True)
    with open(root / "corpus.jsonl", "w", encoding="utf-8") as f:
        for docid in sorted(keep, key=int):
            f.write(json.dumps(corpus[docid]) + "\n")
    used = {r[0] for rows in qrels.values() for r in rows}
    with open(root / "queries.jsonl", "w", encoding="utf-8") as f:
        for qid in sorted(used, key=int):
            f.write(json.dumps(queries[qid]) + "\n")
    for split, rows in qrels.items():
        lines = "".join("\t".join(r) + "\n" for r in rows)
        (root / "qrels" / f"{split}.tsv").write_text("query-id\tcorpus-id\tscore\n" + lines)
    return root
