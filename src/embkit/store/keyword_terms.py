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

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

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


def _words(texts: list[str]) -> tuple[list[list[str]], dict[str, str | None]]:
    """Each text's lowercased words, and the stem of every word among them."""
    global _stems
    words = [_split(text.lower()) for text in texts]
    stems = _stems
    new = {w for ws in words for w in ws if w not in stems}
    if new:
        if len(stems) + len(new) > MAX_REMEMBERED:
            # A new dict, never a cleared one: another thread may be reading the old.
            stems = _stems = {}
            new = {w for ws in words for w in ws}
        plain = sorted(new - _stopwords)
        stems.update(zip(plain, _stemmer().stemWords(plain)))
        stems.update(dict.fromkeys(new & _stopwords))
    return words, stems


def tokenize(texts: list[str]) -> list[list[str]]:
    """The stemmed terms of each text, in order, stopwords left out (a text of only
    stopwords or punctuation gives an empty list)."""
    words, stems = _words(list(texts))
    return [[s for s in map(stems.get, ws) if s is not None] for ws in words]


def tokenize_terms(text: str) -> list[str]:
    """The stemmed terms of one text (a query, or a document to highlight matches in)."""
    return tokenize([text])[0]


def tokenize_ids(texts: list[str]) -> tuple[list[list[int]], list[str]]:
    """(each text's terms as ids, the term of each id): for indexing many texts at once."""
    ids: dict[str, int] = {}
    out = [[ids.setdefault(t, len(ids)) for t in terms] for terms in tokenize(texts)]
    return out, list(ids)
