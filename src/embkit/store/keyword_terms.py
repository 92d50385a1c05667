"""Text to BM25 terms: one tokenizer for documents and queries alike.

bm25s's tokenization, word for word (scikit-learn's `\\b\\w\\w+\\b` words, lowercased),
its English stopword list, and the Snowball English stemmer from PyStemmer, so
"running" and "runs" are both the term "run". Documents and queries must go through
the same function: a term only matches what was indexed under the same spelling.

The same output as `bm25s.tokenize`, several times faster on long texts: each word's
stem (or None for a stopword) is remembered across calls, so a word is stemmed once.
"""

import re
import threading
from itertools import chain

import numpy as np
import Stemmer

# bm25s's English stopwords (bm25s.stopwords.STOPWORDS_EN), written out: importing them
# from bm25s loads the whole package (numba, scipy: ~70 MiB in every server worker), and
# a keyword index must keep the list it was built with whatever bm25s release is installed.
STOPWORDS_EN = ("a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no",
                "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this",
                "to", "was", "will", "with")
STEMMER = "english"
TOKEN_PATTERN = r"(?u)\b\w\w+\b"
DESCRIPTION = (f"lowercase, words {TOKEN_PATTERN}, bm25s English stopwords, "
               f"Snowball {STEMMER} stemmer (PyStemmer)")
MAX_REMEMBERED = 2_000_000  # words whose stem is kept; past that the memory starts afresh

_split = re.compile(TOKEN_PATTERN).findall
_stopwords = frozenset(STOPWORDS_EN)
_local = threading.local()  # a PyStemmer stemmer is not safe to share between threads
_stems: dict[str, str | None] = {}  # word -> stem, None for a stopword (dict reads and writes are atomic)


def _stemmer() -> Stemmer.Stemmer:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer(STEMMER)
    return stemmer


def _words(texts: list[str]) -> tuple[list[list[str]], dict[str, str | None], set[str]]:
    """Each text's lowercased words, the stem of every word among them, and the set of
    those words."""
    global _stems
    words = [_split(text.lower()) for text in texts]
    distinct = set().union(*words)
    stems = _stems
    new = distinct.difference(stems)
    if new:
        if len(stems) + len(new) > MAX_REMEMBERED:
            # A new dict, never a cleared one: another thread may be reading the old.
            stems = _stems = {}
            new = distinct
        plain = sorted(new - _stopwords)
        stems.update(zip(plain, _stemmer().stemWords(plain)))
        stems.update(dict.fromkeys(new & _stopwords))
    return words, stems, distinct


def tokenize(texts: list[str]) -> list[list[str]]:
    """The stemmed terms of each text, in order, stopwords left out (a text of only
    stopwords or punctuation gives an empty list)."""
    words, stems, _ = _words(list(texts))
    return [[s for s in map(stems.get, ws) if s is not None] for ws in words]


def tokenize_terms(text: str) -> list[str]:
    """The stemmed terms of one text (a query, or a document to highlight matches in)."""
    return tokenize([text])[0]


def term_ids(texts: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(the term id of every term of `texts`, the text each is of, both int64 in text
    order then term order; the term of each id, sorted): `tokenize` for indexing many
    texts at once, each word looked up once per call rather than each occurrence."""
    words, stems, distinct = _words(list(texts))
    terms = sorted({stems[w] for w in distinct} - {None})
    index = {t: i for i, t in enumerate(terms)}
    code = {w: -1 if (s := stems[w]) is None else index[s] for w in distinct}  # -1: a stopword
    codes = np.fromiter(map(code.__getitem__, chain.from_iterable(words)), dtype=np.int64)
    text_of = np.repeat(np.arange(len(words)), np.fromiter(map(len, words), dtype=np.int64, count=len(words)))
    kept = codes >= 0
    return codes[kept], text_of[kept], terms
