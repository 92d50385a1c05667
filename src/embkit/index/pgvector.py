"""The vector index of a PostgreSQL collection: pgvector inside the database (HNSW by
default, IVFFlat, or none for an exact scan). PostgreSQL keeps it current in every
transaction, so there is nothing to catch up, save or rebuild in the background; this
module gives it the VectorIndex and IndexLifecycle contracts (protocol.py), through the
PostgreSQL store's public SQL helpers (`statement`, `transaction`, `read_connection`)."""

import json
import logging

import numpy as np

from ..errors import EmbkitError
from ..store.pg_search import Candidates
from .ivf import effective_nlist
from .spec import SEARCH_PARAMS, IndexSpec, check_param, parse_spec

DEFAULT_SPEC = "hnsw:M=16,efc=64,ef=40"  # pgvector's own defaults
SPEC_KEY = "index_spec:"
TRAINED_KEY = "index_trained:"  # meta, ivfflat: {"rows": vectors its lists trained on, "asked": spec, "retrains"}
RETRAIN_GROWTH = 4  # as FAISS's IVF (manager.py): retrain once the table holds 4x the vectors
log = logging.getLogger("embkit.index")
METHODS = {"hnsw": "hnsw", "ivf": "ivfflat", "flat": None}  # embkit kind -> pgvector access method
OPS = {"cosine": ("<=>", "vector_cosine_ops"), "dot": ("<#>", "vector_ip_ops"), "l2": ("<->", "vector_l2_ops")}
MAX_EF = 1000  # hnsw.ef_search; a wider beam (a widened filter search) is clamped to it
MAX_M, MAX_EFC, MAX_LISTS = 100, 1000, 32768  # pgvector's limits, tighter than FAISS's


class PgVectorIndex:
    """Searches a space's vector table with pgvector's distance operators (a VectorIndex)."""

    binary = False
    dead = 0
    trained_on = 0

    def __init__(self, store, space, spec: IndexSpec, version: tuple[int, ...]):
        self.store, self.space, self.spec, self.version = store, space, spec, version
        self.kind, self.metric, self.dim = spec.kind, space.metric, space.dim
        self.params = dict(spec.params)
        self.effective_spec = str(spec)

    @property
    def ntotal(self) -> int:
        return self.store.count()

    @property
    def nbytes(self) -> int:
        """Bytes a search reads: the space's vector table and its pgvector index."""
        return _relation_bytes(self.store, f"vec_{self.space.name}", f"vec_{self.space.name}_index")

    def search(self, queries: np.ndarray, k: int, allow: np.ndarray | None = None,
               **params) -> tuple[np.ndarray, np.ndarray]:
        """(row ids, scores), each (n, k), best first; -1 / -inf pad rows with fewer
        hits. `allow` restricts to these row ids; `params` as the FAISS indexes take."""
        params = self._checked(params)
        queries = self._queries(queries)
        rowids = np.full((len(queries), max(k, 0)), -1, dtype=np.int64)
        scores = np.full((len(queries), max(k, 0)), -np.inf, dtype=np.float32)
        if k < 1 or (allow is not None and len(allow) == 0):
            return rowids, scores
        where = "WHERE doc = ANY(%s)" if allow is not None else ""
        # ORDER BY the selected distance: the same expression, so the index serves it
        statement = self.store.statement(f"SELECT doc, embedding {OPS[self.metric][0]} %s FROM {{s}}.{{v}} {where} "
                                         "ORDER BY 2 LIMIT %s", self.space.name)
        extra = [[int(r) for r in allow]] if allow is not None else []
        conn = self.store.read_connection()
        with conn.transaction():  # set_config(..., true) lasts until its end
            with conn.pipeline():  # one round trip for many queries (the analysis verbs send thousands)
                for name, value in self._settings(params, k, allow is not None):
                    conn.execute("SELECT set_config(%s, %s, true)", (name, str(value)))
                cursors = [conn.execute(statement, (query, *extra, k)) for query in queries]
            for i, cursor in enumerate(cursors):
                rows = sorted(cursor.fetchall(), key=lambda r: r[1])
                if rows:
                    rowids[i, :len(rows)] = [r[0] for r in rows]
                    scores[i, :len(rows)] = [_score(self.metric, r[1]) for r in rows]
        return rowids, scores

    def candidates(self, query: np.ndarray | None, k: int, terms: list[str] | None, k_keyword: int,
                   where: dict | None = None, **params) -> Candidates:
        """The `k` nearest rows to `query` (None: no dense part) and the `k_keyword` best
        by BM25 for `terms`, among the rows matching `where`, with their records and the
        filter's warnings: one round trip (store.search_candidates). Dense scores as
        `search` gives them, best first."""
        params = self._checked(params)
        dense = query is not None and k > 0
        settings = self._settings(params, k, where is not None) if dense else []
        vector = self._queries(query)[0] if dense else None
        found = self.store.search_candidates(self.space.name, OPS[self.metric][0], vector, k, terms, k_keyword,
                                             where, settings, SPEC_KEY + self.space.name)
        self._adopt(found.meta_value or DEFAULT_SPEC)
        rowids, distances = found.dense
        found.dense = (rowids, np.array([_score(self.metric, d) for d in distances], dtype=np.float32))
        return found

    def _adopt(self, spec: str) -> None:
        """Take up the spec another process built since (seen by the last search)."""
        if spec != str(self.spec):
            self.spec = parse_spec(spec)
            self.kind, self.params, self.effective_spec = self.spec.kind, dict(self.spec.params), str(self.spec)

    def _checked(self, params: dict) -> dict:
        unknown = set(params) - set(SEARCH_PARAMS.get(self.kind, ()))
        if unknown:
            allowed = ", ".join(SEARCH_PARAMS.get(self.kind, ())) or "none"
            raise EmbkitError(f"{sorted(unknown)[0]}: not a search parameter of the {self.kind} index "
                              f"(it takes: {allowed})")
        return {key: check_param(self.kind, key, v, field=key) for key, v in params.items() if v is not None}

    def _queries(self, queries: np.ndarray) -> np.ndarray:
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise EmbkitError(f"queries: dimension {queries.shape[-1]} does not match the index's {self.dim}")
        return queries

    def _settings(self, params: dict, k: int, filtered: bool) -> list[tuple[str, object]]:
        """Per-transaction settings: the beam or the lists to visit and, from pgvector
        0.8, iterative scans, so a filter or a k beyond the beam still fills k (relaxed
        order: the rows are sorted again after the scan)."""
        iterative = self.version >= (0, 8)
        if self.kind == "hnsw":
            ef = min(max(params.get("ef", self.params["ef"]), k), MAX_EF)  # as FAISS: the beam is at least k
            return [("hnsw.ef_search", ef)] + ([("hnsw.iterative_scan", "relaxed_order")] if iterative else [])
        if self.kind == "ivf":
            probes = min(params.get("nprobe", self.params["nprobe"]), self.params["nlist"])
            scan = [("ivfflat.iterative_scan", "relaxed_order")] if iterative and filtered else []
            return [("ivfflat.probes", probes)] + scan  # relaxed: the rows are sorted here
        return []


class PgIndexManager:
    """The IndexLifecycle of a pgvector index: its spec in `meta`, the index in PostgreSQL."""

    building = False

    def __init__(self, store, space):
        self.store, self.space = store, space
        self.folder = store.path / "index" / space.name  # unused: the index lives in PostgreSQL
        self._version: tuple[int, ...] | None = None
        self._searcher: PgVectorIndex | None = None

    def configured(self) -> IndexSpec:
        return parse_spec(self.store.meta(SPEC_KEY + self.space.name) or DEFAULT_SPEC)

    def current(self, progress=None, wait: bool = True) -> PgVectorIndex:
        return PgVectorIndex(self.store, self.space, self.configured(), self.version)

    def searcher(self) -> PgVectorIndex:
        """The index a search asks (one per manager: its spec is read once, then kept up
        to date by the search statements themselves, which read it as they run)."""
        if self._searcher is None:
            self._searcher = self.current()
        return self._searcher

    @property
    def version(self) -> tuple[int, ...]:
        """The pgvector extension's (major, minor) version, read once: (0,) without it."""
        if self._version is None:
            row = self.store.read_connection().execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
            self._version = tuple(int(p) for p in row[0].split(".")[:2]) if row else (0,)
        return self._version

    def ready(self) -> bool:
        return False  # each search is a query to the database, never an in-process one

    def build(self, spec: str = "auto", memory_budget=None, progress=None) -> PgVectorIndex:
        """(Re)create the pgvector index in one transaction; `auto` is HNSW with
        pgvector's defaults. A spec pgvector cannot build is refused, changing nothing."""
        if memory_budget is not None:
            raise EmbkitError("memory_budget: not used by the PostgreSQL backend (the index lives in the database)")
        parsed = parse_spec(DEFAULT_SPEC if spec == "auto" else spec)
        if parsed.kind not in METHODS:
            raise EmbkitError(f"spec: the PostgreSQL backend supports {', '.join(METHODS)} (pgvector), "
                              f"not {parsed.kind!r}")
        return self._build(parsed, 0)

    def _build(self, asked: IndexSpec, retrains: int) -> PgVectorIndex:
        spec = _checked(asked, self.store.count())
        self._create(METHODS[spec.kind], OPS[self.space.metric][1], spec, (asked, retrains))
        self._searcher = None
        return self.current()

    def retrain_if_grown(self) -> bool:
        """Rebuild an ivfflat index (its lists trained again, their number chosen again
        for the data) once the table holds RETRAIN_GROWTH times the vectors it was trained
        on; says so in the log and in info's `retrains`. True if it did."""
        conn, name = self.store.read_connection(), self.space.name
        row = conn.execute(self.store.statement(  # not for a space dropped since (a reembed's --drop-old)
            "SELECT value FROM {s}.meta WHERE key = %s AND EXISTS (SELECT 1 FROM {s}.spaces WHERE name = %s)"),
            (TRAINED_KEY + name, name)).fetchone()
        if row is None:
            return False
        trained = json.loads(row[0])
        rows = conn.execute(self.store.statement("SELECT count(*) FROM {s}.{v}", name)).fetchone()[0]
        if rows <= RETRAIN_GROWTH * max(trained["rows"], 1):
            return False
        log.info("pgvector ivfflat index of space %r retrained: %d vectors, %d when its lists were trained",
                 self.space.name, rows, trained["rows"])
        self._build(parse_spec(trained["asked"]), trained["retrains"] + 1)
        return True

    def _create(self, method: str | None, opclass: str, spec: IndexSpec, asked: tuple[IndexSpec, int]) -> None:
        """Replace the space's pgvector index (`method` None: no index, exact scans) and
        record `spec` (and for ivfflat, the rows its lists are trained on, the spec
        `asked` and how many retrains so far), in one transaction: a failed build
        leaves the old index and spec."""
        from psycopg import sql  # the optional `postgres` extra: only PostgreSQL stores get here

        q, name, literal = self.store.statement, sql.Identifier(f"vec_{self.space.name}_index"), sql.Literal
        with self.store.transaction() as c:
            c.execute(q("DROP INDEX IF EXISTS {s}.{i}", i=name))
            if method == "hnsw":
                c.execute(q("CREATE INDEX {i} ON {s}.{v} USING hnsw (embedding {o}) WITH (m = {m}, "
                            "ef_construction = {efc})", self.space.name, i=name, o=sql.SQL(opclass),
                            m=literal(spec.params["M"]), efc=literal(spec.params["efc"])))
            elif method == "ivfflat":
                c.execute(q("CREATE INDEX {i} ON {s}.{v} USING ivfflat (embedding {o}) WITH (lists = {n})",
                            self.space.name, i=name, o=sql.SQL(opclass), n=literal(spec.params["nlist"])))
            c.execute(q("INSERT INTO {s}.meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
                      (SPEC_KEY + self.space.name, str(spec)))
            c.execute(q("DELETE FROM {s}.meta WHERE key = %s"), (TRAINED_KEY + self.space.name,))
            if method == "ivfflat":
                c.execute(q("INSERT INTO {s}.meta SELECT %s, json_build_object('rows', count(*), 'asked', %s::text, "
                            "'retrains', %s)::text FROM {s}.{v}", self.space.name),
                          (TRAINED_KEY + self.space.name, str(asked[0]), asked[1]))

    def index_bytes(self) -> int:
        """Size of the space's pgvector index (0 without one)."""
        return _relation_bytes(self.store, f"vec_{self.space.name}_index")

    def wait(self) -> None:
        pass

    def save(self) -> None:
        """Nothing to write: forget the change log, which only Matryoshka views read to
        catch up (they rebuild without it, as after a FAISS index's save)."""
        generation = self.store.generation
        if int(self.store.meta("changes_from") or 0) < generation:
            self.store.prune_changes(generation)
        self.retrain_if_grown()  # the process that grew the table pays for it, once per fourfold

    def info(self) -> dict:
        spec = self.configured()
        trained = json.loads(self.store.meta(TRAINED_KEY + self.space.name) or "{}")
        return {"configured": str(spec), "building": False, "memory_budget": None, "kind": spec.kind,
                "spec": str(spec), "params": spec.params, "backend": "pgvector", "current": True,
                "bytes": self.index_bytes(), "persisted": True, "dead": 0,
                "generation": self.store.generation, "count": self.store.count(),
                "trained_on": trained.get("rows"), "retrains": trained.get("retrains", 0)}


def _checked(spec: IndexSpec, count: int) -> IndexSpec:
    """The spec within pgvector's limits (an IVF's lists clamped to the data, as FAISS's)."""
    p = dict(spec.params)
    if spec.kind == "hnsw":
        if p["M"] > MAX_M or p["efc"] > MAX_EFC or p["ef"] > MAX_EF:
            raise EmbkitError(f"spec: pgvector's hnsw takes M up to {MAX_M}, efc up to {MAX_EFC} and ef up to "
                              f"{MAX_EF}; got {spec}")
        if p["efc"] < 2 * p["M"]:
            raise EmbkitError(f"spec: pgvector's hnsw needs efc >= 2 x M; got M={p['M']}, efc={p['efc']}")
    if spec.kind == "ivf":
        if p["nlist"] > MAX_LISTS:
            raise EmbkitError(f"spec: pgvector's ivfflat takes nlist up to {MAX_LISTS}; got {p['nlist']}")
        p["nlist"] = effective_nlist(p["nlist"], count)
    return IndexSpec(spec.kind, p)


def _relation_bytes(store, *names: str) -> int:
    """Bytes of these tables or indexes of the collection's schema (0 for one that does not exist)."""
    row = store.read_connection().execute(
        "SELECT coalesce(sum(pg_relation_size(to_regclass(name))), 0) FROM unnest(%s::text[]) name",
        ([f'"{store.schema}"."{name}"' for name in names],)).fetchone()
    return int(row[0])


def _score(metric: str, distance: float) -> float:
    """pgvector distance -> embkit score, higher is better (as the FAISS indexes give)."""
    if metric == "cosine":
        return 1.0 - distance
    return -distance  # <#> is the negated inner product; <-> the Euclidean distance
