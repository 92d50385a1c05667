"""Training examples for a bi-encoder: from a jsonl file of pairs, or from a BEIR split's
qrels (query → relevant document), with hard negatives mined by embkit's own search.

Fields per loss, checked line by line before any training starts:
- mnrl:    anchor, positive (negative optional: in-batch negatives do the rest)
- triplet: anchor, positive, negative (or mined with --hard-negatives)
- cosine:  sentence1, sentence2, score (a similarity from 0 to 1)
"""

import json
import random
from pathlib import Path

from ..errors import EmbkitError

LOSSES = ("mnrl", "triplet", "cosine")
FIELDS = {"mnrl": ("anchor", "positive"), "triplet": ("anchor", "positive"),
          "cosine": ("sentence1", "sentence2", "score")}


def read_pairs(path: str | Path, loss: str) -> dict[str, list]:
    """Columns of the examples in a jsonl file (each record: the fields of `loss`)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise EmbkitError(f"data: {path} not found")
    columns: dict[str, list] = {f: [] for f in FIELDS[loss]}
    negatives: list = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as e:
            raise EmbkitError(f"{path}:{number}: not valid JSON ({e})") from None
        if not isinstance(record, dict):
            raise EmbkitError(f"{path}:{number}: expected an object")
        for field in FIELDS[loss]:
            columns[field].append(_field(record, field, path, number))
        if loss != "cosine":
            negatives.append(_field(record, "negative", path, number) if "negative" in record else None)
    if not columns[FIELDS[loss][0]]:
        raise EmbkitError(f"data: {path} holds no examples")
    if any(n is not None for n in negatives):
        missing = next(i for i, n in enumerate(negatives) if n is None) if None in negatives else None
        if missing is not None:
            raise EmbkitError(f"{path}: record {missing + 1} has no negative while others do (give all or none)")
        columns["negative"] = negatives
    return columns


def _field(record: dict, field: str, path: Path, number: int):
    if field not in record:
        raise EmbkitError(f"{path}:{number}: missing field {field!r}")
    value = record[field]
    if field == "score":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise EmbkitError(f"{path}:{number}: score must be a number from 0 to 1, got {value!r}")
        return float(value)
    if not isinstance(value, str) or not value.strip():
        raise EmbkitError(f"{path}:{number}: {field} must be a non-empty string")
    return value


def beir_pairs(beir_dir: str | Path, split: str) -> tuple[dict[str, list], object]:
    """(query, relevant document) columns of a BEIR split, and the data (for mining)."""
    from ..evaluate.beir import load_beir

    if split == "test":
        raise EmbkitError("split: refusing to train on the test split (it is what the model is evaluated on)")
    data = load_beir(Path(beir_dir), split)
    anchors, positives = [], []
    for qid in sorted(data.queries):
        for docid, gain in sorted(data.qrels.get(qid, {}).items()):
            if gain > 0 and data.doc_text(docid):
                anchors.append(data.queries[qid])
                positives.append(data.doc_text(docid))
    if not anchors:
        raise EmbkitError("beir: the split has no (query, relevant document) pairs to train on")
    return {"anchor": anchors, "positive": positives}, data


def mine_negatives(columns: dict[str, list], search, count: int, depth: int = 30, seed: int = 0) -> None:
    """Add `count` hard negatives per example: `search(anchor, depth)` gives candidate
    texts, best first; any that is a positive of the same anchor is skipped. Mostly the
    hardest, one in three from deeper down (the very top holds unlabelled positives)."""
    rng = random.Random(seed)
    positives: dict[str, set[str]] = {}
    for anchor, positive in zip(columns["anchor"], columns["positive"]):
        positives.setdefault(anchor, set()).add(positive)
    mined: list[list[str]] = []
    for anchor in columns["anchor"]:
        pool = [t for t in search(anchor, depth) if t not in positives[anchor]]
        head = count - count // 3
        if len(pool) < count:
            raise EmbkitError(f"hard_negatives: found only {len(pool)} candidates for {anchor[:60]!r}; "
                              f"lower --hard-negatives")
        mined.append(pool[:head] + rng.sample(pool[head:], count - head))
    for i in range(count):
        columns[f"negative_{i + 1}" if count > 1 else "negative"] = [m[i] for m in mined]
