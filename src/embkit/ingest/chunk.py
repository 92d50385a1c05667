"""Token-aware chunking: split a long text into spans that fit the encoder, counted in
the encoder's own tokens, ending at headings (markdown, HTML) or sentence ends where
possible, overlapping a little (never across a heading).

A span is a pair of character offsets into the text, so a chunk can always be traced
back to its place in the document (and its page, for a pdf)."""

from bisect import bisect_right
from typing import NamedTuple

from ..encoders.tokenizer_files import plain
from ..errors import EmbkitError
from .outline import SectionIndex

MIN_CHUNK_TOKENS, MAX_CHUNK_TOKENS = 16, 8192
_ENDERS = set(".!?…。！？")
_WIDE_ENDERS = set("。！？")  # CJK sentence ends: no space follows them
_CLOSERS = set("\"')]}”’»")
# Quality of a cut between two tokens: before a heading, paragraph, sentence, between
# words, between a word and punctuation, inside a word (between two pieces: a last resort).
HEADING, PARAGRAPH, SENTENCE, WORD, PUNCT, INSIDE = 4, 3, 2, 1, 0, -1


class Span(NamedTuple):
    """A chunk: `text == document_text[start:end]`."""

    start: int
    end: int
    text: str


class ChunkRecord(NamedTuple):
    """A record ready to embed and store."""

    id: str
    text: str
    metadata: dict


def check_chunking(chunk_tokens, overlap) -> None:
    """Refuse sizes the chunker cannot honour, naming the field and the limit."""
    if isinstance(chunk_tokens, bool) or not isinstance(chunk_tokens, int) \
            or not MIN_CHUNK_TOKENS <= chunk_tokens <= MAX_CHUNK_TOKENS:
        raise EmbkitError(f"chunk_tokens: must be an integer from {MIN_CHUNK_TOKENS} to {MAX_CHUNK_TOKENS}, "
                          f"got {chunk_tokens!r}")
    limit = (chunk_tokens - 1) // 2
    if isinstance(overlap, bool) or not isinstance(overlap, int) or not 0 <= overlap <= limit:
        raise EmbkitError(f"overlap: must be an integer from 0 to {limit} (less than half of chunk_tokens "
                          f"{chunk_tokens}), got {overlap!r}")


def special_tokens(tokenizer) -> int:
    """Tokens the model adds around every text ([CLS] and [SEP] for BERT)."""
    processor = tokenizer.post_processor
    return processor.num_special_tokens_to_add(False) if processor is not None else 0


def _cut_scores(text: str, offsets: list[tuple[int, int]], headings: frozenset[int] = frozenset()) -> list[int]:
    """scores[j]: how good a cut between token j-1 and token j is (scores[0] unused);
    `headings`: the character offsets where a section's heading starts."""
    scores = [INSIDE]
    for (_, prev_end), (start, _) in zip(offsets, offsets[1:]):
        gap = text[prev_end:start]
        if start in headings:
            scores.append(HEADING)
        elif gap.count("\n") >= 2:
            scores.append(PARAGRAPH)
        elif text[prev_end - 1] in _WIDE_ENDERS:
            scores.append(SENTENCE)
        elif any(c.isspace() for c in gap):
            k = prev_end - 1
            while k > 0 and text[k] in _CLOSERS:  # `end."` or `(see below.)` ends a sentence too
                k -= 1
            scores.append(SENTENCE if text[k] in _ENDERS else WORD)
        elif gap or not (text[prev_end - 1].isalnum() and text[start].isalnum()):
            scores.append(PUNCT)
        else:
            scores.append(INSIDE)
    return scores


def _best(scores: list[int], lo: int, hi: int, level: int, near: int) -> int | None:
    """The position in [lo, hi] with a score >= level closest to `near`, or None."""
    best = None
    for j in range(max(lo, 1), hi + 1):
        if scores[j] >= level and (best is None or abs(j - near) < abs(best - near)):
            best = j
    return best


def chunk_text(text: str, tokenizer, chunk_tokens: int = 256, overlap: int = 32,
               sections: list[tuple[int, str]] | None = None) -> list[Span]:
    """Split `text` into spans of at most `chunk_tokens` tokens including the model's
    special tokens, each ending before a heading (a `sections` offset) or else at a
    sentence end where one falls in the last two thirds of the window (else a word end;
    never inside a word piece), consecutive spans sharing about `overlap` tokens
    (starting at a sentence or word start where possible; a span after a heading cut
    starts at the heading). The spans cover every non-whitespace character. A text
    that fits is one span, all of it."""
    check_chunking(chunk_tokens, overlap)
    if tokenizer.truncation is not None or tokenizer.padding is not None:
        tokenizer = plain(tokenizer)
    budget = chunk_tokens - special_tokens(tokenizer)
    offsets = tokenizer.encode(text, add_special_tokens=False).offsets
    n = len(offsets)
    if n <= budget:
        return [Span(0, len(text), text)]
    scores = _cut_scores(text, offsets, frozenset(offset for offset, _ in sections or ()))

    def char_end(j: int) -> int:  # through token j-1, plus any untokenized non-space before token j
        stop = len(text) if j == n else offsets[j][0]
        while stop > offsets[j - 1][1] and text[stop - 1].isspace():
            stop -= 1
        return stop

    spans, a = [], 0
    first = len(text) - len(text.lstrip())  # leading characters the tokenizer dropped still belong
    while True:
        m = min(a + budget, n)
        j = m
        if m < n:
            for level, lo in ((HEADING, a + budget // 3), (SENTENCE, a + budget // 3), (WORD, a + budget // 2),
                              (PUNCT, a + budget // 2)):
                found = _best(scores, lo, m, level, near=m)  # the latest good cut
                if found is not None:
                    j = found
                    break
        start = first if a == 0 else offsets[a][0]
        while j > a + 1 and len(tokenizer.encode(text[start:char_end(j)], add_special_tokens=False).ids) > budget:
            j -= 1  # re-tokenized on its own, a span can differ at its edges; make sure it fits
        spans.append(Span(start, char_end(j), text[start:char_end(j)]))
        if j >= n:
            return spans
        a = j if scores[j] == HEADING else _next_start(scores, a, j, overlap)  # a section starts afresh


def _next_start(scores: list[int], a: int, j: int, overlap: int) -> int:
    """The first token of the next span: about `overlap` tokens before `j`, at a sentence
    or word start if one is near, always after `a` and at most halfway back to it."""
    if overlap == 0:
        return j
    target = j - overlap
    lo = max(a + 1, (a + j + 1) // 2, j - overlap - overlap // 2)
    hi = max(lo, j - max(1, overlap // 2))
    for level in (SENTENCE, WORD, PUNCT):
        found = _best(scores, lo, hi, level, near=target)
        if found is not None:
            return found
    return min(max(target, lo), j - 1) if j - 1 > a else j


def page_at(pages: list[tuple[int, int]], offset: int, starts: list[int] | None = None) -> int:
    """The page number where character `offset` falls, from [(char_offset, page_no), ...]
    (`starts`: their offsets, laid out once by a caller that looks up many)."""
    starts = [start for start, _ in pages] if starts is None else starts
    i = bisect_right(starts, offset) - 1
    return pages[max(i, 0)][1]


def with_parent(record_id: str, metadata: dict) -> dict:
    """A copy of a whole record's metadata naming its document in `parent`: itself, so
    every record names one, unless it names one already (a chunk exported and added again)."""
    meta = dict(metadata)
    if not isinstance(meta.get("parent"), str):
        meta["parent"] = record_id
    return meta


def whole_record(doc_id: str, text: str, metadata: dict, section: str | None = None) -> ChunkRecord:
    """A document stored as one record: its own id, its metadata with `parent` (see
    with_parent) and `section` when given."""
    meta = with_parent(doc_id, metadata)
    if section is not None:
        meta["section"] = section
    return ChunkRecord(doc_id, text, meta)


def chunk_records(doc_id: str, text: str, metadata: dict, tokenizer, *, pages: list[tuple[int, int]] | None = None,
                  source: str | None = None, chunk_tokens: int = 256, overlap: int = 32,
                  sections: list[tuple[int, str]] | None = None) -> list[ChunkRecord]:
    """A document as records to embed. One that fits is one record with its own id and
    its metadata plus `parent` (doc_id unless it names one: with_parent). A longer one
    becomes chunks `{doc_id}#{i}` (i from 0) whose metadata is the document's plus
    `parent` (doc_id), `chunk` (i), `start`/`end` (offsets in `text`), `source` (the
    document's, else the given one), with `pages`, `page`, and with `sections`, `section`
    (the heading path where the chunk starts, if any heading comes before it; a whole
    document gets the one at its start). These keys take precedence over the document's
    own of the same name."""
    spans = chunk_text(text, tokenizer, chunk_tokens, overlap, sections)
    outline = SectionIndex(sections)
    if len(spans) == 1 and spans[0].start == 0 and spans[0].end == len(text):
        return [whole_record(doc_id, text, metadata, outline.at(0))]
    origin = metadata.get("source", source)
    page_starts = [start for start, _ in pages] if pages else None
    records = []
    for i, span in enumerate(spans):
        meta = {**metadata, "parent": doc_id, "chunk": i, "start": span.start, "end": span.end}
        if pages:
            meta["page"] = page_at(pages, span.start, page_starts)
        section = outline.at(span.start)
        if section is not None:
            meta["section"] = section
        if origin is not None:
            meta["source"] = origin
        records.append(ChunkRecord(f"{doc_id}#{i}", span.text, meta))
    return records
