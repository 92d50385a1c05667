"""The keyword (BM25) index of a PostgreSQL store: postings in the collection's own
tables, changed in the same transaction as the text they index, scored in SQL.

`keyword_postings` holds one row per (term, document) with the term's count in the
document (tf) and the document's length (dl), both capped at bm25.MAX_COUNT; dl sits on
every posting so a query reads nothing but the postings of its terms (an index-only
scan of the primary key, which INCLUDEs them). `keyword_stats` is one row: the number
of documents with terms and their total length. Every write that changes text or
deletes rows removes the rows' postings and adds the new ones, and moves the two
totals by exactly what it changed, so the index scores as one built from scratch.
"""

from collections import Counter
from typing import Callable, Sequence

import numpy as np

from . import bm25
from .keyword_terms import DESCRIPTION, tokenize

TOKENIZER_KEY = "kw_tokenizer"  # meta: the tokenizer the postings were made with
REBUILD_BATCH = 2_000
EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
TABLES = [
    'CREATE TABLE {s}.keyword_postings (term text COLLATE "C" NOT NULL, doc bigint NOT NULL, '
    "tf integer NOT NULL, dl integer NOT NULL, PRIMARY KEY (term, doc) INCLUDE (tf, dl))",
    "CREATE INDEX keyword_postings_doc ON {s}.keyword_postings (doc)",  # a document's postings, to remove them
    "CREATE TABLE {s}.keyword_stats (one boolean PRIMARY KEY DEFAULT TRUE CHECK (one), docs bigint NOT NULL, "
    "tokens bigint NOT NULL)",
    "INSERT INTO {s}.keyword_stats VALUES (TRUE, 0, 0)",
]
KEYWORD_TABLES = ("keyword_postings", "keyword_stats")

# BM25 (store/bm25.py) in float8 and in the same order of operations as bm25.idf and
# bm25.term_scores, so each term's score in a document is the same double as numpy's:
# a term's weight (idf x repeats) once per term, then one expression per posting.
_F = "::float8"
_WEIGHT = f"ln(1{_F} + ((st.docs - df.n){_F} + 0.5{_F}) / (df.n{_F} + 0.5{_F})) * t.times{_F}"
_SCORE = (f"w.weight * p.tf{_F} / (p.tf{_F} + {bm25.K1!r}{_F} * (1{_F} - {bm25.B!r}{_F} + "
          f"{bm25.B!r}{_F} * p.dl{_F} / w.avgdl))")


def keyword_ctes(n: int, allow: np.ndarray | None, where: tuple[str, list] | None) -> tuple[str, list]:
    """The CTEs `kw_terms`, `kw_weights` and `kw` (doc, score: the `n` best, best first)
    of one statement, and their parameters after the terms' (a text[] the caller binds
    first). Document frequencies count all postings (an index-only count per term)
    before `allow` or the filter `where` ((SQL over `d.metadata`, params)) narrows the
    documents: the statistics stay the whole collection's, as SQLite's index keeps them."""
    params: list = []
    join, tests = "", []
    if allow is not None:
        tests.append("p.doc = ANY(%s::bigint[])")
        params.append([int(r) for r in allow])
    if where is not None:
        join = " JOIN {s}.docs d ON d.rowid = p.doc"
        tests.append("(" + where[0].replace("{", "{{").replace("}", "}}") + ")")
        params.extend(where[1])
    params.append(n)
    sql = ('kw_terms AS (SELECT term COLLATE "C" AS term, count(*) AS times FROM unnest(%s::text[]) AS t(term) '
           "GROUP BY 1), "
           f"kw_weights AS (SELECT t.term, {_WEIGHT} AS weight, st.tokens{_F} / st.docs{_F} AS avgdl "
           "FROM kw_terms t CROSS JOIN {s}.keyword_stats st CROSS JOIN LATERAL "
           "(SELECT count(*) AS n FROM {s}.keyword_postings p WHERE p.term = t.term) df WHERE df.n > 0), "
           f"kw AS (SELECT doc, score FROM (SELECT p.doc, sum({_SCORE}) AS score "
           "FROM kw_weights w JOIN {s}.keyword_postings p ON p.term = w.term" + join +
           (" WHERE " + " AND ".join(tests) if tests else "") + " GROUP BY p.doc) scored "
           "WHERE score > 0 ORDER BY score::real DESC, doc LIMIT %s)")
    return sql, params


def postings_of(rows: Sequence[tuple[int, str | None]]) -> tuple[list, int, int]:
    """([terms], [docs], [tf], [dl]) arrays of the documents' postings, the number of
    documents with terms and their total length."""
    rows = [(r, t) for r, t in rows if t]
    terms, docs, tfs, dls = [], [], [], []
    n_docs = n_tokens = 0
    for (rowid, _), words in zip(rows, tokenize([t for _, t in rows])):
        if not words:
            continue
        dl = min(len(words), bm25.MAX_COUNT)
        n_docs, n_tokens = n_docs + 1, n_tokens + dl
        for term, tf in Counter(words).items():
            terms.append(term)
            docs.append(rowid)
            tfs.append(min(tf, bm25.MAX_COUNT))
            dls.append(dl)
    return [terms, docs, tfs, dls], n_docs, n_tokens


class PgKeyword:
    """Mixed into PostgresStore (uses its `_q`, `_read`, `_reader`, `_transaction`)."""

    def _create_keyword(self, c) -> None:
        """The keyword tables of an empty index, within the caller's transaction."""
        for statement in TABLES:
            c.execute(self._q(statement))
        c.execute(self._q("INSERT INTO {s}.meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = "
                          "excluded.value"), (TOKENIZER_KEY, DESCRIPTION))

    def _keyword_add(self, c, rows: Sequence[tuple[int, str | None]]) -> None:
        """Within the caller's transaction: documents (row id, text) enter the index (none
        of them may be in it: `_keyword_remove` them first)."""
        arrays, n_docs, n_tokens = postings_of(rows)
        if n_docs:  # COPY: twice the postings a second of INSERT ... SELECT FROM unnest(...)
            with c.cursor() as cur, cur.copy(self._q("COPY {s}.keyword_postings (term, doc, tf, dl) FROM STDIN")) as cp:
                for posting in zip(*arrays):
                    cp.write_row(posting)
            c.execute(self._q("UPDATE {s}.keyword_stats SET docs = docs + %s, tokens = tokens + %s"),
                      (n_docs, n_tokens))

    def _keyword_remove(self, c, rowids: Sequence[int]) -> None:
        """Within the caller's transaction: these rows leave the index (one statement:
        their postings go and the totals drop by the documents and lengths they held)."""
        if len(rowids):
            c.execute(self._q("WITH gone AS (DELETE FROM {s}.keyword_postings WHERE doc = ANY(%s) RETURNING doc, dl), "
                              "per_doc AS (SELECT DISTINCT doc, dl FROM gone) UPDATE {s}.keyword_stats SET "
                              "docs = docs - (SELECT count(*) FROM per_doc), "
                              "tokens = tokens - (SELECT coalesce(sum(dl), 0) FROM per_doc)"),
                      ([int(r) for r in rowids],))

    def _keyword_fill(self, c, progress: Callable[[int], None] | None = None) -> None:
        """Within the caller's transaction: the index emptied and built from every text."""
        c.execute(self._q("TRUNCATE {s}.keyword_postings"))
        c.execute(self._q("UPDATE {s}.keyword_stats SET docs = 0, tokens = 0"))
        last = -1
        while True:
            rows = c.execute(self._q("SELECT rowid, text FROM {s}.docs WHERE rowid > %s ORDER BY rowid LIMIT %s"),
                             (last, REBUILD_BATCH)).fetchall()
            if not rows:
                break
            self._keyword_add(c, rows)
            last = rows[-1][0]
            if progress:
                progress(len(rows))
        c.execute(self._q("INSERT INTO {s}.meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = "
                          "excluded.value"), (TOKENIZER_KEY, DESCRIPTION))

    # ---- the Store protocol's keyword methods ------------------------------------------

    def keyword_top_k(self, terms: list[str], k: int, allow: np.ndarray | None = None,
                      where: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(row ids int64, BM25 scores float32) of the `k` best documents for tokenized
        `terms`, best first, ties by row id, scores above 0, among `allow` and the rows
        matching `where` if given: one statement, scored in PostgreSQL."""
        from .where_pg import compile_where_pg

        if not terms or k <= 0 or (allow is not None and len(allow) == 0):
            return EMPTY
        compiled = compile_where_pg(where, column="d.metadata") if where else None
        ctes, params = keyword_ctes(k, allow, compiled)
        rows = self._read("WITH " + ctes + " SELECT doc, score FROM kw ORDER BY score::real DESC, doc",
                          [list(terms), *params]).fetchall()
        return (np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows], dtype=np.float32))

    def keyword_stats(self) -> dict:
        """{"docs", "tokens", "bytes"}: documents with terms, their total length, and the
        bytes of the keyword tables with their indexes."""
        row = self._read("SELECT docs, tokens, (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                         "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r' AND "
                         "c.relname = ANY(%s)) FROM {s}.keyword_stats",
                         (self.url.schema, list(KEYWORD_TABLES))).fetchone()
        return {"docs": int(row[0]), "tokens": int(row[1]), "bytes": int(row[2])}

    def rebuild_keyword(self, progress: Callable[[int], None] | None = None) -> None:
        """The keyword index built again from the documents' text, in one transaction
        (writers wait for it: it holds the generation row's lock)."""
        with self._transaction() as c:
            self._lock_writers(c)
            self._keyword_fill(c, progress)
