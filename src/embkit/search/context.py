"""RAG context: the best passages for a question, deduplicated, numbered and cited,
within a token budget, as a block of text ready to paste into an LLM prompt."""

import re
from dataclasses import dataclass, field
from typing import Callable

from ..errors import EmbkitError
from .hit import Hit

MAX_BUDGET = 200_000
NEAR_DUPLICATE = 0.8  # word-set Jaccard above which a passage repeats an earlier one

CountTokens = Callable[[str], int]


@dataclass
class Passage:
    n: int  # the citation number, [n] in the text block
    id: str
    text: str
    score: float
    tokens: int
    parent: str | None = None
    source: str | None = None
    page: int | None = None
    start: int | None = None
    end: int | None = None
    metadata: dict = field(default_factory=dict)

    def citation(self) -> str:
        """`[n] source, p. 3, chars 120-480 (id)`: where the passage comes from."""
        where = [self.source or self.parent or self.id]
        if self.page is not None:
            where.append(f"p. {self.page}")
        if self.start is not None and self.end is not None:
            where.append(f"chars {self.start}-{self.end}")
        return f"[{self.n}] " + ", ".join(where) + (f" (id {self.id})" if self.source or self.parent else "")


@dataclass
class Context:
    question: str
    passages: list[Passage]
    budget_tokens: int

    @property
    def tokens(self) -> int:
        return sum(p.tokens for p in self.passages)

    @property
    def text(self) -> str:
        """Numbered passages, each under its citation line, separated by blank lines."""
        return "\n\n".join(f"{p.citation()}\n{p.text.strip()}" for p in self.passages)

    def to_dict(self) -> dict:
        return {"question": self.question, "budget_tokens": self.budget_tokens, "tokens": self.tokens,
                "passages": [p.__dict__ for p in self.passages], "text": self.text}


def check_budget(budget_tokens) -> int:
    if isinstance(budget_tokens, bool) or not isinstance(budget_tokens, int) or not 1 <= budget_tokens <= MAX_BUDGET:
        raise EmbkitError(f"budget_tokens: must be an integer from 1 to {MAX_BUDGET}, got {budget_tokens!r}")
    return budget_tokens


def build_context(question: str, hits: list[Hit], budget_tokens: int, count_tokens: CountTokens) -> Context:
    """Take hits in rank order, skip repeats (the same text, a near copy, or a chunk
    overlapping one already taken), and stop adding once the budget is full; a passage
    that does not fit is skipped for a shorter one further down."""
    budget_tokens = check_budget(budget_tokens)
    chosen: list[Passage] = []
    words: list[set[str]] = []
    used = 0
    for hit in hits:
        text = (hit.text or "").strip()
        if not text:
            continue
        hit_words = set(re.findall(r"\w+", text.lower()))
        if any(_jaccard(hit_words, w) >= NEAR_DUPLICATE for w in words) or any(_overlaps(hit, p) for p in chosen):
            continue
        tokens = count_tokens(text)
        if used + tokens > budget_tokens:
            continue
        chosen.append(Passage(len(chosen) + 1, hit.id, text, hit.score, tokens, hit.parent, hit.source, hit.page,
                              hit.start, hit.end, hit.metadata))
        words.append(hit_words)
        used += tokens
    return Context(question, chosen, budget_tokens)


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _overlaps(hit: Hit, passage: Passage) -> bool:
    """Two chunks of one document sharing more than half of the shorter one (the usual
    chunking overlap is a few sentences, and both chunks are worth keeping then)."""
    if hit.parent is None or hit.parent != passage.parent or None in (hit.start, hit.end, passage.start, passage.end):
        return False
    shared = min(hit.end, passage.end) - max(hit.start, passage.start)
    return shared > 0.5 * min(hit.end - hit.start, passage.end - passage.start)
