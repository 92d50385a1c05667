"""pgvector behind the index contract's test interface (test_contract.py): a space of
a real PostgreSQL collection whose rows are written under the row ids the contract
chooses. FAISS indexes take `add`/`remove`; pgvector's rows arrive through the store
(here: its public `transaction`/`statement`), and the database keeps its index current.
Searches and every property go to the PgVectorIndex the factory (`index_manager`) gives."""

import itertools

import numpy as np

from embkit.index import index_manager
from embkit.store.postgres import PostgresStore
from embkit.store.types import Space

_serial = itertools.count()


class PgContractIndex:
    """One pgvector index of `spec` over a fresh collection on `server`."""

    def __init__(self, server, spec: str, dim: int, metric: str):
        self.url = f"{server.url_for('embkit_tests')}?collection=contract{next(_serial)}"
        self.store = PostgresStore.create(self.url, [Space("text", "none", dim, metric, metric == "cosine")])
        self.space, self.dim, self.spec_text = self.store.spaces()["text"], dim, spec
        self.manager = index_manager(self.store, self.space, self.store.path / "index" / "text")
        self.store.set_meta("index_spec:text", spec)  # as a collection records it; the index itself
        self.indexed = False  # is made after the first add, as FAISS trains on its first add

    def __getattr__(self, name):  # kind, spec, params, metric, ntotal, nbytes, dead, search, ...
        return getattr(self.manager.current(), name)

    def train_on(self, vectors) -> None:
        """Nothing to learn ahead: pgvector's IVF lists learn from the rows when it is made."""

    def add(self, ids, vectors) -> None:
        ids, vectors = np.asarray(ids, dtype=np.int64), np.asarray(vectors, dtype=np.float32)
        if not len(ids):
            return
        texts = ["[" + ",".join(repr(x) for x in row) + "]" for row in vectors.tolist()]
        q = self.store.statement
        with self.store.transaction() as c:
            c.execute(
                q(
                    "INSERT INTO {s}.docs (rowid, id, metadata) OVERRIDING SYSTEM VALUE "
                    "SELECT r, 'r' || r, '{{}}' FROM unnest(%s::bigint[]) r ON CONFLICT (rowid) DO NOTHING"
                ),
                (ids.tolist(),),
            )
            c.execute(
                q(
                    "INSERT INTO {s}.{v} (doc, embedding) SELECT * FROM unnest(%s::bigint[], %s::vector[]) "
                    "ON CONFLICT (doc) DO UPDATE SET embedding = excluded.embedding",
                    "text",
                ),
                (ids.tolist(), texts),
            )
        if not self.indexed:
            self.manager.build(self.spec_text)
            self.indexed = True

    def remove(self, ids) -> int:
        q = self.store.statement
        with self.store.transaction() as c:
            return c.execute(
                q("DELETE FROM {s}.docs WHERE rowid = ANY(%s)"), ([int(i) for i in np.asarray(ids).ravel()],)
            ).rowcount

    def reopened(self) -> "PgContractIndex":
        """The same collection opened anew (what a saved and loaded FAISS index is to it)."""
        again = object.__new__(PgContractIndex)
        again.url, again.store = self.url, PostgresStore.open(self.url)
        again.space, again.dim, again.spec_text, again.indexed = self.space, self.dim, self.spec_text, True
        again.manager = index_manager(again.store, again.space, again.store.path / "index" / "text")
        return again

    def close(self) -> None:
        self.store.close()
