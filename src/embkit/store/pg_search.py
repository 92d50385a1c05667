"""A whole PostgreSQL search in one round trip: the dense candidates (pgvector's index,
the filter compiled to SQL beside the ordering), the BM25 candidates (pg_keyword.py),
their records, the filter's warnings and the index spec, from one statement; the index's
settings travel with it in the same pipeline, SET LOCAL to the statement's implicit
transaction (nothing is left set on the connection).

With a filter, pgvector 0.8's iterative scans keep the index walking until k rows pass
it; should they still come up short (a filter so selective that the scan gives up at
hnsw.max_scan_tuples), an exact scan of the matching rows runs in the same statement,
and only then (a one-time filter on the index scan's count).
"""

import json
from dataclasses import dataclass, field

import numpy as np

from .pg_keyword import keyword_ctes
from .reembed_steps import SUPERSEDED
from .types import Record


@dataclass
class Candidates:
    """What one search statement found: dense (row ids, distances) ascending, keyword
    (row ids, scores) descending, the records of both, the filter's warnings, the
    value of the meta key asked for (the index spec as stored), and the spaces a
    reembed replaced as stored (so a handle follows another process's switch without
    a read of its own)."""

    dense: tuple[np.ndarray, np.ndarray]
    keyword: tuple[np.ndarray, np.ndarray]
    records: dict[int, Record] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    meta_value: str | None = None
    superseded: dict[str, str] = field(default_factory=dict)


class PgSearch:
    """Mixed into PostgresStore (uses its `_q`, `_reader`)."""

    def search_candidates(self, space: str, operator: str, vector: np.ndarray | None, n_dense: int,
                          terms: list[str] | None, n_keyword: int, where: dict | None = None,
                          settings: list[tuple[str, object]] = (), meta_key: str | None = None) -> Candidates:
        """Dense candidates by `operator` (pgvector's distance, smaller is nearer) for
        `vector` (None or n_dense 0: none), BM25 candidates for `terms` (None, empty or
        n_keyword 0: none), among rows matching `where`, with their records: one statement,
        sent in one pipeline after `settings` (hnsw.ef_search, iterative scans...)."""
        from .where_fields import named_fields, presence_query, warnings_from
        from .where_pg import POSTGRES, compile_where_pg

        checks, head_sql, params = [], "SELECT ARRAY[]::boolean[] AS present", []
        if where:
            checks, presence, params = presence_query(named_fields(where), POSTGRES, table="{s}.docs")
            head_sql = "SELECT ARRAY[" + presence[len("SELECT "):] + "] AS present"
        params.append([meta_key, SUPERSEDED])
        ctes = ["head AS (" + head_sql + ", (SELECT json_object_agg(key, value) FROM {s}.meta "
                "WHERE key = ANY(%s)) AS meta)"]
        compiled = compile_where_pg(where, column="d.metadata") if where else None
        parts = []
        if vector is not None and n_dense > 0:
            sql, more = _dense_ctes(operator, vector, n_dense, compiled)
            ctes.append(sql)
            params += more
            parts.append("SELECT doc, distance, NULL::float8 AS score FROM dense")
        if terms and n_keyword > 0:
            sql, more = keyword_ctes(n_keyword, None, compiled)
            ctes.append(sql)
            params += [list(terms), *more]
            parts.append("SELECT doc, NULL::float8, score FROM kw")
        found = " UNION ALL ".join(parts) or "SELECT NULL::bigint AS doc, NULL::float8, NULL::float8 WHERE FALSE"
        statement = self._q("WITH " + ", ".join(ctes) + ", found (doc, distance, score) AS (" + found + ") "
                            "SELECT h.present, h.meta, f.doc, f.distance, f.score, d.id, d.text, d.metadata "
                            "FROM head h LEFT JOIN (found f JOIN {s}.docs d ON d.rowid = f.doc) ON TRUE", space)
        rows = _run(self._reader(), settings, statement, params)
        return _candidates(rows, checks, warnings_from, meta_key)


def _dense_ctes(operator: str, vector: np.ndarray, n: int, where: tuple[str, list] | None) -> tuple[str, list]:
    """The CTE `dense` (doc, distance) of the `n` nearest rows (matching `where`), and
    its parameters. Filtered: the index's walk, then the exact scan if it fell short."""
    distance = "v.embedding " + operator + " %s"
    if where is None:
        return f"dense AS MATERIALIZED (SELECT v.doc, {distance} AS distance FROM {{s}}.{{v}} v " \
               "ORDER BY distance LIMIT %s)", [vector, n]
    test = where[0].replace("{", "{{").replace("}", "}}")
    rows = "FROM {s}.{v} v JOIN {s}.docs d ON d.rowid = v.doc WHERE (" + test + ")"
    sql = (f"dense_walk AS MATERIALIZED (SELECT v.doc, {distance} AS distance {rows} ORDER BY distance LIMIT %s), "
           # `+ 0`: an ordering no index serves, so this one is an exact scan of the matching rows
           f"dense_exact AS MATERIALIZED (SELECT v.doc, ({distance}) + 0 AS distance {rows} AND "
           "(SELECT count(*) FROM dense_walk) < %s ORDER BY distance LIMIT %s), "
           "dense AS (SELECT doc, min(distance) AS distance FROM (SELECT * FROM dense_walk UNION ALL "
           "SELECT * FROM dense_exact) u GROUP BY doc ORDER BY 2, 1 LIMIT %s)")
    return sql, [vector, *where[1], n, vector, *where[1], n, n, n]


def _run(conn, settings, statement, params) -> list[tuple]:
    """The statement's rows, its settings SET LOCAL before it: one pipeline, one Sync,
    so both run in one implicit transaction and the settings end with it."""
    with conn.pipeline():
        if settings:
            conn.execute("SELECT " + ", ".join(["set_config(%s, %s, true)"] * len(settings)),
                         [x for name, value in settings for x in (name, str(value))])
        cursor = conn.execute(statement, params)
    return cursor.fetchall()


def _candidates(rows: list[tuple], checks, warnings_from, meta_key: str | None) -> Candidates:
    dense, keyword, records = [], [], {}
    for _, _, doc, distance, score, doc_id, text, metadata in rows:
        if doc is None:
            continue
        if distance is not None:
            dense.append((distance, doc))
        if score is not None:
            keyword.append((-np.float32(score), doc))
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        records[doc] = Record(id=doc_id, text=text, metadata=metadata, rowid=doc)
    dense.sort()
    keyword.sort()
    present, meta = (rows[0][0], rows[0][1] or {}) if rows else ([], {})
    return Candidates((np.array([d for _, d in dense], dtype=np.int64), np.array([x for x, _ in dense])),
                      (np.array([d for _, d in keyword], dtype=np.int64),
                       np.array([-s for s, _ in keyword], dtype=np.float32)),
                      records, warnings_from(checks, present) if checks else [],
                      meta.get(meta_key), json.loads(meta.get(SUPERSEDED) or "{}"))
