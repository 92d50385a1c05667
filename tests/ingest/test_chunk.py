"""The chunker's invariants on real text with the real MiniLM tokenizer: size in model
tokens, exact offsets, full coverage, overlap, sentence ends preferred; chunk records."""

import pytest

from embkit.errors import EmbkitError
from embkit.ingest import check_chunking, chunk_records, chunk_text

CLOSERS = "\"')]}”’»"


def ends_sentence(span_text: str) -> bool:
    return span_text.rstrip().rstrip(CLOSERS)[-1:] in (".", "!", "?")


def check_invariants(text, spans, tokenizer, chunk_tokens, overlap):
    """Everything chunk_text promises, checked from the outside."""
    encoding = tokenizer.encode(text, add_special_tokens=False)
    starts = {s for s, _ in encoding.offsets}
    ends = {e for _, e in encoding.offsets}
    covered = bytearray(len(text))
    for i, span in enumerate(spans):
        assert text[span.start:span.end] == span.text
        assert len(tokenizer.encode(span.text).ids) <= chunk_tokens  # [CLS] and [SEP] included
        # never inside a word piece: spans begin at a token start and end at a token end
        assert i == 0 or span.start in starts
        assert span.end in ends or span.end == len(text.rstrip())
        covered[span.start:span.end] = b"\x01" * (span.end - span.start)
    assert all(covered[i] or c.isspace() for i, c in enumerate(text)), "non-whitespace text left out"
    for prev, nxt in zip(spans, spans[1:]):
        assert prev.start < nxt.start
        if overlap:
            shared = len(tokenizer.encode(text[nxt.start:prev.end], add_special_tokens=False).ids)
            assert 1 <= shared <= 2 * overlap, (shared, overlap)
        else:
            assert nxt.start >= prev.end


@pytest.mark.parametrize("chunk_tokens, overlap", [(256, 32), (128, 16), (64, 8), (16, 7), (40, 0)])
def test_invariants_on_scifact(long_text, tokenizer, chunk_tokens, overlap):
    spans = chunk_text(long_text, tokenizer, chunk_tokens, overlap)
    total = len(tokenizer.encode(long_text, add_special_tokens=False).ids)
    assert len(spans) >= total / (chunk_tokens - 2)
    check_invariants(long_text, spans, tokenizer, chunk_tokens, overlap)


@pytest.mark.parametrize("chunk_tokens, overlap, share", [(256, 32, 0.95), (128, 16, 0.9)])
def test_chunks_end_at_sentence_ends(long_text, tokenizer, chunk_tokens, overlap, share):
    spans = chunk_text(long_text, tokenizer, chunk_tokens, overlap)
    inner = spans[:-1]
    at_end = [ends_sentence(s.text) or long_text[s.end:s.end + 2] == "\n\n" for s in inner]  # or a paragraph's
    assert sum(at_end) >= share * len(inner)
    # and they keep whole words at both edges (an overlap starts at a word start)
    assert all(long_text[s.end].isspace() for s in inner)
    assert all(long_text[s.start - 1].isspace() for s in spans[1:])


def test_overlap_starts_at_a_sentence_when_one_is_near(tokenizer):
    text = " ".join(f"Sentence number {i} is short." for i in range(300))
    spans = chunk_text(text, tokenizer, 64, 16)
    assert len(spans) > 10 and all(s.text.startswith("Sentence number") for s in spans)
    assert all(ends_sentence(s.text) for s in spans)


def test_a_text_that_fits_is_one_chunk(tokenizer, scifact):
    text = "  " + scifact[0]["text"][:400] + "\n"
    assert len(tokenizer.encode(text).ids) <= 256
    assert chunk_text(text, tokenizer) == [(0, len(text), text)]


@pytest.mark.parametrize("text", [
    "-".join(str(i) for i in range(3000)),  # no spaces at all: cut between pieces of punctuation
    " ".join(f"word{i}" for i in range(1500)),  # no sentence ends: cut between words
    "\u200b\x07Lead. " + "Zero\u200bwidth and \x00control chars. " * 300 + "\u200b",  # characters the tokenizer drops
    "\n\n   " + "Short one. " * 400 + "   \n",
    "这是一个测试句子。我们在这里写中文！" * 150,  # no spaces; each CJK character is a token
    "😀 Emoji and 𝒳 astral characters, héllo wörld. " * 200,  # offsets count characters, not bytes
])
def test_odd_texts(tokenizer, text):
    for chunk_tokens, overlap in ((64, 10), (32, 0)):
        spans = chunk_text(text, tokenizer, chunk_tokens, overlap)
        assert len(spans) > 2
        check_invariants(text, spans, tokenizer, chunk_tokens, overlap)


@pytest.mark.parametrize("chunk_tokens, overlap, message", [
    (15, 0, "chunk_tokens: must be an integer from 16 to 8192, got 15"),
    (8193, 0, "chunk_tokens: must be an integer from 16 to 8192, got 8193"),
    (256.0, 0, "chunk_tokens: must be an integer from 16 to 8192, got 256.0"),
    (256, -1, "overlap: must be an integer from 0 to 127 (less than half of chunk_tokens 256), got -1"),
    (256, 128, "overlap: must be an integer from 0 to 127 (less than half of chunk_tokens 256), got 128"),
    (17, 9, "overlap: must be an integer from 0 to 8 (less than half of chunk_tokens 17), got 9"),
])
def test_validation(tokenizer, chunk_tokens, overlap, message):
    with pytest.raises(EmbkitError) as e:
        chunk_text("some text", tokenizer, chunk_tokens, overlap)
    assert str(e.value) == message
    check_chunking(16, 7)
    check_chunking(8192, 4095)


def test_chunk_records(long_text, tokenizer):
    meta = {"title": "SciFact", "chunk": "users' own key", "source": "corpus.jsonl"}
    records = chunk_records("doc7", long_text, meta, tokenizer, source="ignored.txt", chunk_tokens=128, overlap=16)
    assert [r.id for r in records] == [f"doc7#{i}" for i in range(len(records))] and len(records) > 10
    for i, r in enumerate(records):
        m = r.metadata
        assert set(m) == {"title", "chunk", "source", "parent", "start", "end"}
        assert (m["parent"], m["chunk"], m["title"], m["source"]) == ("doc7", i, "SciFact", "corpus.jsonl")
        assert long_text[m["start"]:m["end"]] == r.text
    assert meta == {"title": "SciFact", "chunk": "users' own key", "source": "corpus.jsonl"}  # not modified
    no_source = chunk_records("d", long_text, {}, tokenizer, source="f.jsonl")
    assert all(r.metadata["source"] == "f.jsonl" and "page" not in r.metadata for r in no_source)


def test_chunk_records_of_a_short_document(tokenizer):
    meta = {"source": "a.txt"}
    (record,) = chunk_records("a.txt", "A short note.", meta, tokenizer, pages=[(0, 1)])
    assert record == ("a.txt", "A short note.", {"source": "a.txt", "parent": "a.txt"}) and record.metadata is not meta
