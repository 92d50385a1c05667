"""Text to BM25 terms: one tokenizer for documents and queries alike.

bm25s's tokenizer (scikit-learn's `\\b\\w\\w+\\b` words, lowercased), its English
stopword list, and the Snowball English stemmer from PyStemmer, so "running" and
"runs" are both the term "run". Documents and queries must go through the same
function: a term only matches what was indexed under the same spelling.
"""

import threading

import bm25s
import Stemmer

STOPWORDS = "en"
STEMMER = "english"
TOKEN_PATTERN = r"(?u)\b\w\w+\b"
DESCRIPTION = (f"bm25s {bm25s.__version__}: lowercase, words {TOKEN_PATTERN}, bm25s English stopwords, "
               f"Snowball {STEMMER} stemmer (PyStemmer)")

_local = threading.local()  # a PyStemmer stemmer is not safe to share between threads


def _stemmer() -> Stemmer.Stemmer:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer(STEMMER)
    return stemmer


def tokenize(texts: list[str]) -> list[list[str]]:
    """The stemmed terms of each text, in order, stopwords left out (a text of only
    stopwords or punctuation gives an empty list)."""
    if not texts:
        return []
    return bm25s.tokenize(list(texts), lower=True, token_pattern=TOKEN_PATTERN, stopwords=STOPWORDS,
                          stemmer=_stemmer(), return_ids=False, show_progress=False)


def tokenize_terms(text: str) -> list[str]:
    """The stemmed terms of one text (a query, or a document to highlight matches in)."""
    return tokenize([text])[0]


def tokenize_ids(texts: list[str]) -> tuple[list[list[int]], list[str]]:
    """(each text's terms as ids, the term of each id): `tokenize` without a string per
    token, for indexing many texts at once."""
    if not texts:
        return [], []
    found = bm25s.tokenize(list(texts), lower=True, token_pattern=TOKEN_PATTERN, stopwords=STOPWORDS,
                           stemmer=_stemmer(), return_ids=True, show_progress=False)
    terms = [""] * len(found.vocab)
    for term, i in found.vocab.items():
        terms[i] = term
    return found.ids, terms
