"""The four keyword engines of bench_keyword_engines.py, behind one small interface.

Each engine keeps documents under integer keys and answers with keys, so the harness
treats them alike. Every `add` and `delete` is durable and visible to the next
`search` when it returns: that is the cost a user pays after one write.

- tantivy: segments (Lucene's design), its `en_stem` tokenizer (lowercase, Snowball
  English stemmer, no stopwords), postings with term frequencies (no positions: BM25
  needs none), its BM25 (k1 1.2, b 0.75). One writer thread. add = add_document +
  commit + reload. The query: an OR (boolean should) of term queries, its words put
  through the same chain as en_stem (tantivy's query parser would make phrase queries
  of words like "IL-6", which need positions).
- fts5: SQLite FTS5 (`porter unicode61`) over a `docs` table (external content), both
  written in one transaction as a store would; FTS5's bm25() (k1 1.2, b 0.75).
- bm25s: embkit's keyword index before issue 21 (src/embkit at git commit ea9797a,
  its SQLite store and search/keyword.py): every write makes the next search rebuild
  the whole bm25s index from the store's text and save it.
- instore: embkit's new postings kept in the SQLite store (store/keyword_sqlite.py),
  updated in the store's write transaction; searched with SQLiteStore.keyword_top_k.

tantivy and FTS5 get the query's words (`\\w\\w+`, lowercased) minus bm25s's English
stopwords, ORed; bm25s and instore get embkit's own tokenizer (the same stopwords,
Snowball stemmer), so every engine scores the same query words.
"""

import re
import shutil
import sqlite3
from pathlib import Path
from typing import Iterable

import numpy as np

WORD = re.compile(r"(?u)\b\w\w+\b")
DIM = 4  # the stores need a vector per document; a tiny one keeps them about text
STORE_BATCH = 20_000  # documents a transaction when building


def query_words(text: str) -> list[str]:
    """The query's words for tantivy and FTS5: lowercased, bm25s's stopwords left out."""
    from bm25s.stopwords import STOPWORDS_EN

    stop = set(STOPWORDS_EN)
    return [w for w in WORD.findall(text.lower()) if w not in stop]


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


class Tantivy:
    name = "tantivy"

    def __init__(self, folder: Path):
        import tantivy

        self.t, self.folder = tantivy, Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        builder = tantivy.SchemaBuilder()
        builder.add_integer_field("key", stored=True, indexed=True)
        builder.add_text_field("body", tokenizer_name="en_stem", index_option="freq")
        self.index = tantivy.Index(builder.build(), path=str(self.folder))
        self.writer = self.index.writer(heap_size=256_000_000, num_threads=1)
        self.analyzer = (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.remove_long(40))
                         .filter(tantivy.Filter.lowercase()).filter(tantivy.Filter.stemmer("english")).build())

    def build(self, docs: Iterable[tuple[int, str]]) -> None:
        for key, text in docs:
            self.writer.add_document(self.t.Document(key=key, body=text))
        self._commit()

    def _commit(self) -> None:
        self.writer.commit()
        self.index.reload()
        self.searcher = self.index.searcher()

    def add(self, key: int, text: str) -> None:
        self.writer.add_document(self.t.Document(key=key, body=text))
        self._commit()

    def delete(self, keys: list[int]) -> None:
        for key in keys:
            self.writer.delete_documents("key", key)
        self._commit()

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        words = query_words(query)
        if not words:
            return []
        terms = [t for w in words for t in self.analyzer.analyze(w)]  # as en_stem indexed them
        schema, should = self.index.schema, self.t.Occur.Should
        query = self.t.Query.boolean_query([(should, self.t.Query.term_query(schema, "body", t)) for t in terms])
        hits = self.searcher.search(query, k, count=False).hits
        return [(self.searcher.doc(addr)["key"][0], float(score)) for score, addr in hits]

    def stats(self, term: str) -> dict:
        """What BM25 counts: documents alive, and a term's document frequency (tantivy's
        doc_freq, which its BM25 uses, counts deleted documents until a merge drops them)."""
        return {"num_docs": self.searcher.num_docs, "segments": self.searcher.num_segments,
                f"doc_freq({term})": self.searcher.doc_freq("body", term)}

    def bytes(self) -> int:
        return folder_bytes(self.folder)

    def close(self) -> None:
        self.writer.wait_merging_threads()


class Fts5:
    name = "fts5"

    def __init__(self, folder: Path):
        Path(folder).mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(Path(folder) / "fts.db", isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")  # as embkit's store
        self.conn.execute("CREATE TABLE docs (rowid INTEGER PRIMARY KEY, text TEXT)")
        self.conn.execute("CREATE VIRTUAL TABLE fts USING fts5(text, content='docs', content_rowid='rowid', "
                          "tokenize='porter unicode61')")

    def _write(self, docs: Iterable[tuple[int, str]]) -> None:
        rows = list(docs)
        self.conn.executemany("INSERT INTO docs (rowid, text) VALUES (?, ?)", rows)
        self.conn.executemany("INSERT INTO fts (rowid, text) VALUES (?, ?)", rows)

    def build(self, docs: Iterable[tuple[int, str]]) -> None:
        batch = []
        for doc in docs:
            batch.append(doc)
            if len(batch) == STORE_BATCH:
                self._transaction(self._write, batch)
                batch = []
        self._transaction(self._write, batch)

    def _transaction(self, fn, *args) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        fn(*args)
        self.conn.execute("COMMIT")

    def add(self, key: int, text: str) -> None:
        self._transaction(self._write, [(key, text)])

    def delete(self, keys: list[int]) -> None:
        def remove():
            marks = [f"{k}" for k in keys]
            self.conn.execute(f"INSERT INTO fts (fts, rowid, text) SELECT 'delete', rowid, text FROM docs "
                              f"WHERE rowid IN ({','.join(marks)})")
            self.conn.execute(f"DELETE FROM docs WHERE rowid IN ({','.join(marks)})")
        self._transaction(remove)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        words = query_words(query)
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in words)
        rows = self.conn.execute("SELECT rowid, bm25(fts) AS s FROM fts WHERE fts MATCH ? ORDER BY s LIMIT ?",
                                 (match, k)).fetchall()
        return [(r, -s) for r, s in rows]  # bm25() is negated: smaller is better

    def bytes(self) -> int:
        return self.conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'fts%'").fetchone()[0]

    def close(self) -> None:
        self.conn.close()


class _Store:
    """A SQLite store of embkit (today's, or the one at ea9797a put first on sys.path)."""

    def __init__(self, folder: Path):
        from embkit.store.sqlite import SQLiteStore
        from embkit.store.types import Record, Space

        self.Record, self.folder = Record, Path(folder)
        self.store = SQLiteStore.create(self.folder / "col", [Space("s", "bench", DIM, "cosine", True)])
        self.vector = np.full((1, DIM), 0.5, dtype=np.float32)

    def _write(self, docs: list[tuple[int, str]], upsert: bool = False) -> None:
        records = [self.Record(str(key), text, {}) for key, text in docs]
        self.store.write(records, "s", np.repeat(self.vector, len(records), axis=0), upsert=upsert)

    def build(self, docs: Iterable[tuple[int, str]]) -> None:
        batch = []
        for doc in docs:
            batch.append(doc)
            if len(batch) == STORE_BATCH:
                self._write(batch)
                batch = []
        if batch:
            self._write(batch)

    def add(self, key: int, text: str) -> None:
        self._write([(key, text)])

    def delete(self, keys: list[int]) -> None:
        self.store.delete(ids=[str(k) for k in keys])

    def _keys(self, rowids: np.ndarray, scores: np.ndarray) -> list[tuple[int, float]]:
        records = self.store.by_rowids(rowids.tolist())
        return [(int(records[r].id), float(s)) for r, s in zip(rowids.tolist(), scores.tolist())]

    def close(self) -> None:
        self.store.close()


class Bm25sRebuild(_Store):
    name = "bm25s"

    def __init__(self, folder: Path):
        super().__init__(folder)
        from embkit.search.keyword import KeywordIndex

        self.index = KeywordIndex(self.store, self.folder / "keyword")

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        return self._keys(*self.index.search(query, k))

    def bytes(self) -> int:
        return folder_bytes(self.folder / "keyword")


class InStore(_Store):
    name = "instore"

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        from embkit.store.keyword_terms import tokenize_terms

        return self._keys(*self.store.keyword_top_k(tokenize_terms(query), k))

    def bytes(self) -> int:
        return self.store.keyword_stats()["bytes"]


ENGINES = {e.name: e for e in (Tantivy, Fts5, Bm25sRebuild, InStore)}


def make(name: str, folder: Path):
    """A new, empty engine `name` in `folder` (cleared first)."""
    shutil.rmtree(folder, ignore_errors=True)
    return ENGINES[name](Path(folder))
