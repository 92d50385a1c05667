"""Any number of distinct, short, real texts for benchmarks at 10k to 1M documents.

The sentences of SciFact's 5,183 abstracts (title and text split at sentence ends,
kept when they have 4 to 60 words, duplicates dropped: 47,488 sentences) are paired:
document i joins sentence a = i mod S and sentence b = (a + 1 + i div S) mod S, so
no two of the first S·(S−1) (over two billion) documents share their pair of
sentences, and every document is distinct. The first 10k documents draw on ~1,100
abstracts; from 47,488 documents on, every sentence is used (it repeats). Texts
average ~46 words (~325 characters). Deterministic: the same i always gives the same text.

    from short_texts import short_texts
    for doc_id, text in short_texts(1_000_000): ...
"""

import functools
import json
import re
from pathlib import Path
from typing import Iterator

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")
MIN_WORDS, MAX_WORDS = 4, 60


@functools.lru_cache(maxsize=4)
def sentences(data: Path = DATA) -> tuple[str, ...]:
    """SciFact's abstract sentences, in corpus order, without duplicates."""
    seen: dict[str, None] = {}
    with open(Path(data) / "scifact" / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            for part in SENTENCE_END.split(f"{doc['title'].strip()} {doc['text'].strip()}"):
                part = " ".join(part.split())
                if MIN_WORDS <= len(part.split()) <= MAX_WORDS:
                    seen.setdefault(part, None)
    return tuple(seen)


def short_text(i: int, data: Path = DATA) -> str:
    """Document number i (0-based): two SciFact sentences, a distinct pair for each i."""
    pool = sentences(data)
    n = len(pool)
    if not 0 <= i < n * (n - 1):
        raise ValueError(f"i: must be in [0, {n * (n - 1)}), got {i}")
    a = i % n
    return f"{pool[a]} {pool[(a + 1 + i // n) % n]}"


def short_texts(count: int, start: int = 0, data: Path = DATA) -> Iterator[tuple[str, str]]:
    """(id "s<i>", text) of documents start .. start+count-1."""
    for i in range(start, start + count):
        yield f"s{i}", short_text(i, data)
