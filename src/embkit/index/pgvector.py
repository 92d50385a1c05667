"""The vector index of a PostgreSQL collection: pgvector inside the database (HNSW by
default, IVFFlat, or none for an exact scan). PostgreSQL keeps it current in every
transaction, so there is nothing to catch up, save or rebuild in the background; this
module only gives it the interface the search pipeline expects of an index."""

import numpy as np

from ..errors import EmbkitError
from .spec import IndexSpec, check_param, parse_spec

DEFAULT_SPEC = "hnsw:M=16,efc=64,ef=40"  # pgvector's own defaults
SPEC_KEY = "index_spec:"
KINDS = {"hnsw": "hnsw", "ivf": "ivfflat", "flat": None}


class PgVectorIndex:
    """Searches a space's vector table with pgvector's distance operators."""

    binary = False

    def __init__(self, store, space, spec: IndexSpec):
        self.store, self.space, self.spec = store, space, spec
        self.kind, self.metric, self.dim = spec.kind, space.metric, space.dim
        self.params = dict(spec.params)
        self.effective_spec = str(spec)
        self.dead = 0
        self.trained_on = 0

    @property
    def ntotal(self) -> int:
        return self.store.count()

    def search(self, queries: np.ndarray, k: int, allow: np.ndarray | None = None, ef: int | None = None,
               nprobe: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(row ids, scores), each (n, k), best first; -1 pads rows with fewer hits."""
        operator, _ = OPS[self.metric]
        settings = []
        if self.kind == "hnsw":
            settings.append(("hnsw.ef_search", check_param("hnsw", "ef", ef or self.params["ef"], "ef")))
            settings.append(("hnsw.iterative_scan", "strict_order") if allow is not None else None)
        elif self.kind == "ivf":
            settings.append(("ivfflat.probes", check_param("ivf", "nprobe", nprobe or self.params["nprobe"],
                                                           "nprobe")))
        filter_sql = "WHERE doc = ANY(%s)" if allow is not None else ""
        statement = self.store._q(f"SELECT doc, embedding {operator} %s AS d FROM {{s}}.{{v}} {filter_sql} "
                                  f"ORDER BY embedding {operator} %s LIMIT %s", self.space.name)
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        rowids = np.full((len(queries), k), -1, dtype=np.int64)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        conn = self.store._reader()
        with conn.transaction():
            for name, value in filter(None, settings):
                if self.store.pgvector_version >= (0, 8) or name != "hnsw.iterative_scan":
                    conn.execute("SELECT set_config(%s, %s, true)", (name, str(value)))
            for i, query in enumerate(queries):
                args = (query, *([[int(r) for r in allow]] if allow is not None else []), query, k)
                rows = conn.execute(statement, args).fetchall()
                if rows:
                    rowids[i, :len(rows)] = [r[0] for r in rows]
                    scores[i, :len(rows)] = [_score(self.metric, r[1]) for r in rows]
        return rowids, scores


class PgIndexManager:
    """What a collection asks of its index manager, for a pgvector index."""

    building = False

    def __init__(self, store, space):
        self.store, self.space = store, space
        self.folder = store.path / "index" / space.name  # unused: the index lives in PostgreSQL

    def configured(self) -> IndexSpec:
        return parse_spec(self.store.meta(SPEC_KEY + self.space.name) or DEFAULT_SPEC)

    def current(self, progress=None, wait: bool = True) -> PgVectorIndex:
        return PgVectorIndex(self.store, self.space, self.configured())

    def build(self, spec: str = "auto", memory_budget=None, progress=None) -> PgVectorIndex:
        """(Re)create the pgvector index; `auto` is HNSW with pgvector's defaults."""
        if memory_budget is not None:
            raise EmbkitError("memory_budget: not used by the PostgreSQL backend (the index lives in the database)")
        parsed = parse_spec(DEFAULT_SPEC if spec == "auto" else spec)
        if parsed.kind not in KINDS:
            raise EmbkitError(f"spec: the PostgreSQL backend supports {', '.join(KINDS)} (pgvector), "
                              f"not {parsed.kind!r}")
        self.store.create_vector_index(self.space, KINDS[parsed.kind], OPS[self.space.metric][1], parsed.params)
        self.store.set_meta(SPEC_KEY + self.space.name, str(parsed))
        return self.current()

    def wait(self) -> None:
        pass

    def save(self) -> None:
        pass

    def info(self) -> dict:
        spec = self.configured()
        return {"configured": str(spec), "building": False, "memory_budget": None, "kind": spec.kind,
                "spec": str(spec), "params": spec.params, "backend": "pgvector", "current": True,
                "count": self.store.count()}


OPS = {"cosine": ("<=>", "vector_cosine_ops"), "dot": ("<#>", "vector_ip_ops"), "l2": ("<->", "vector_l2_ops")}


def _score(metric: str, distance: float) -> float:
    """pgvector distance -> embkit score, higher is better (as the FAISS indexes give)."""
    if metric == "cosine":
        return 1.0 - distance
    return -distance  # <#> is the negated inner product; <-> the Euclidean distance
