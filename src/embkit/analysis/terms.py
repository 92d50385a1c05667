"""Class-based TF-IDF (c-TF-IDF, as in BERTopic): the terms that set a cluster apart.

All documents of a cluster are read as one long document. A term's weight in a
cluster is its share of that cluster's words times log(1 + A / f_t), where A is the
average number of words per cluster and f_t the term's count over all clusters: a
word frequent everywhere ("use", "return") scores low, one frequent in this cluster
only scores high.

Words follow the keyword index's rules (lowercase `\\w\\w+` words, the Snowball
stemmer), so "cook", "cooks" and "cooking" count as one term; each term is shown as
its most common spelling, so labels read as words, not stems. Labels drop bm25s's
longer English stopword list (179 words: "my", "how", "can"...), not only the 33
that search drops, since a label has no room for function words.
"""

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..store.keyword_terms import STEMMER, TOKEN_PATTERN

_WORD = re.compile(r"[^\W\d_]")  # a term must hold a letter: "2019" or "__" say nothing
MAX_TERM_CHARS = 30


def ctfidf(counts: np.ndarray) -> np.ndarray:
    """c-TF-IDF weights of a (clusters × terms) count matrix: each row L1-normalized,
    times idf = log(1 + A / f_t) (A: mean words per cluster, f_t: the term's total)."""
    counts = np.asarray(counts, dtype=np.float64)
    words = counts.sum(axis=1, keepdims=True)
    tf = counts / np.maximum(words, 1.0)
    total = counts.sum(axis=0)
    idf = np.log1p(words.mean() / np.maximum(total, 1.0))
    return tf * idf


def top_terms(texts: Sequence[str | None], labels: np.ndarray, top: int = 8,
              min_docs: int = 2) -> dict[int, list[str]]:
    """The `top` most distinctive terms of each label (as readable words). A term must
    occur in at least `min_docs` documents of a cluster (or all of a smaller one), so
    one odd name in one document does not label a whole cluster."""
    import scipy.sparse as sp

    labels = np.asarray(labels)
    docs, term_ids, spelling = _term_matrix(texts)
    classes, rows = np.unique(labels, return_inverse=True)
    if not term_ids:
        return {int(c): [] for c in classes}
    member = sp.csr_matrix((np.ones(len(labels)), (rows, np.arange(len(labels)))),
                           shape=(len(classes), len(labels)))
    counts = (member @ docs).toarray()
    present = (member @ (docs > 0).astype(np.float64)).toarray()
    weights = ctfidf(counts)
    sizes = np.asarray(member.sum(axis=1)).ravel()
    words = np.array(spelling, dtype=object)
    out = {}
    for i, c in enumerate(classes):
        w = np.where(present[i] >= min(min_docs, sizes[i]), weights[i], 0.0)
        order = np.argsort(-w, kind="stable")[:top]
        out[int(c)] = [str(words[j]) for j in order if w[j] > 0]
    return out


def _term_matrix(texts: Sequence[str | None]):
    """(documents × terms sparse counts, term -> column, each column's usual spelling)."""
    import bm25s
    import scipy.sparse as sp
    import Stemmer
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    words = bm25s.tokenize([t or "" for t in texts], lower=True, token_pattern=TOKEN_PATTERN,
                           stopwords=STOPWORDS_EN_PLUS, stemmer=None, return_ids=False, show_progress=False)
    surface = Counter(w for doc in words for w in doc if len(w) <= MAX_TERM_CHARS and _WORD.search(w))
    vocab = sorted(surface)
    stems = dict(zip(vocab, Stemmer.Stemmer(STEMMER).stemWords(vocab)))
    term_ids: dict[str, int] = {}
    spelling: list[str] = []
    for word in sorted(vocab, key=lambda w: -surface[w]):  # most common spelling first
        stem = stems[word]
        if stem not in term_ids:
            term_ids[stem] = len(spelling)
            spelling.append(word)
    rows, cols = [], []
    for r, doc in enumerate(words):
        for w in doc:
            if w in stems:
                rows.append(r)
                cols.append(term_ids[stems[w]])
    matrix = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(words), len(spelling)))
    matrix.sum_duplicates()
    return matrix, term_ids, spelling
