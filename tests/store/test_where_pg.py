"""`where` filters compiled for PostgreSQL (`where_pg.compile_where_pg`), run on a real
PostgreSQL 16 over a JSONB column and checked against the same pure-Python reference
(`test_where.matches`) and the same random trees and hand-written cases as SQLite's."""

import json
import random

import pytest

from embkit import EmbkitError
from embkit.store.where import compile_where
from embkit.store.where_pg import compile_where_pg

from pg_server import PostgresServer, available
from test_where import (
    CASES,
    DATA_SEEDS,
    DOCS,
    INVALID,
    N_DOCS,
    NULL_CASES,
    TREES_PER_SEED,
    matches,
    nested,
    random_metadata,
    random_where,
)

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))


@pytest.fixture(scope="module")
def db():
    """A connection to a fresh database with a `docs (grp, id, metadata jsonb)` table:
    group "fixed" holds test_where.DOCS, group "data<seed>" N_DOCS random documents."""
    server = PostgresServer(extension=False).start()
    try:
        import psycopg

        with psycopg.connect(server.create_database("where_pg"), autocommit=True) as conn:
            conn.execute("CREATE TABLE docs (grp text, id text, metadata jsonb NOT NULL, PRIMARY KEY (grp, id))")
            rows = [("fixed", i, m) for i, m in DOCS.items()]
            for seed in DATA_SEEDS:
                rng = random.Random(seed)
                rows += [(f"data{seed}", f"d{i:03d}", random_metadata(rng)) for i in range(N_DOCS)]
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO docs VALUES (%s, %s, %s::jsonb)",
                                [(g, i, json.dumps(m, allow_nan=False)) for g, i, m in rows])
            yield conn
    finally:
        server.stop()


def select(conn, group: str, where) -> set[str]:
    sql, params = compile_where_pg(where)
    ids = [r[0] for r in conn.execute(f"SELECT id FROM docs WHERE grp = %s AND {sql}", [group, *params])]
    assert len(ids) == len(set(ids))
    return set(ids)


def group_docs(conn, group: str) -> dict[str, dict]:
    return dict(conn.execute("SELECT id, metadata FROM docs WHERE grp = %s", [group]).fetchall())


def explain(where: dict, got: set, want: set, docs: dict) -> str:
    lines = [f"where = {json.dumps(where)}", f"got {len(got)} ids, reference {len(want)}"]
    for label, extra in (("SQL only", got - want), ("reference only", want - got)):
        for i in sorted(extra)[:5]:
            lines.append(f"  {label}: {i} {json.dumps(docs[i])}")
    return "\n".join(lines)


# ---- random trees: SQL == reference --------------------------------------------------

@pytest.mark.parametrize("seed", DATA_SEEDS, ids=lambda s: f"data{s}")
@pytest.mark.parametrize("nulls", [False, True], ids=["no-nulls", "nulls"])
def test_random_trees_match_reference(db, seed, nulls):
    """The trees test_where.py runs on SQLite (same seeds, same count), on PostgreSQL."""
    rng = random.Random(1000 * seed + nulls)
    docs = group_docs(db, f"data{seed}")
    rng_data = random.Random(seed)  # the stored metadata is exactly what was generated
    assert docs == {f"d{i:03d}": random_metadata(rng_data) for i in range(N_DOCS)}
    matched = 0
    for _ in range(TREES_PER_SEED):
        where = random_where(rng, nulls)
        want = {i for i, m in docs.items() if matches(m, where)}
        got = select(db, f"data{seed}", where)
        assert got == want, explain(where, got, want, docs)
        matched += 0 < len(want) < N_DOCS
    assert matched > TREES_PER_SEED // 3  # the trees discriminate, not all-or-nothing


# ---- hand-written cases --------------------------------------------------------------

@pytest.mark.parametrize("where, want", CASES + NULL_CASES, ids=[json.dumps(w) for w, _ in CASES + NULL_CASES])
def test_exact_cases(db, where, want):
    assert select(db, "fixed", where) == want


@pytest.mark.parametrize("where", [None, {}])
def test_empty_filter_is_true(db, where):
    assert compile_where_pg(where) == ("TRUE", [])
    assert select(db, "fixed", where) == set(DOCS)


def test_depth_32_is_allowed(db):
    assert select(db, "fixed", nested(32)) == {"int1", "float1"}


@pytest.mark.parametrize("where", [{"v": {"$in": list(range(1000))}},
                                   {"v": {"$nin": list(range(5000))}},
                                   {"$or": [{"v": i} for i in range(1000)]}],
                         ids=["in1000", "nin5000", "or1000"])
def test_large_but_allowed_filters_work(db, where):
    assert select(db, "fixed", where) == {i for i, m in DOCS.items() if matches(m, where)}


EDGE_DOCS = {
    "arr": {"a": [10, 20], "m": {"0": 10}},
    "neg": {"a": [10, 20], "m": {"-1": 20}},
    "big": {"n": 2**53 + 1},
    "bigf": {"n": float(2**53)},
    "huge": {"n": 2**63 - 1},
    "tiny": {"n": 1e-300},
    "negzero": {"n": -0.0},
    "uni_e": {"s": "\u00e9"},
    "uni_z": {"s": "z"},
    "uni_emoji": {"s": "\U0001f600"},
    "uni_Z": {"s": "Z"},
    "percent": {"s": "100% {x}"},
    "a_prefix": {"s": "a"},
    "a_longer": {"s": "a\u0001"},
    "true_obj": {"t": {"x": True}},
}
EDGE_CASES = [
    {"a.0": 10}, {"a.1": 20}, {"a.-1": 20}, {"m.0": 10}, {"m.-1": 20}, {"a.0": None},
    {"n": 2**53 + 1}, {"n": float(2**53)}, {"n": 2**53}, {"n": {"$gt": float(2**53)}},
    {"n": {"$gte": 2**63 - 1}}, {"n": {"$lt": -(2**63)}}, {"n": 0}, {"n": {"$gt": 0}}, {"n": {"$lte": 1e-300}},
    {"s": {"$gt": "z"}}, {"s": {"$lt": "a"}}, {"s": {"$gt": "Z"}}, {"s": {"$gte": "\u00e9"}},
    {"s": {"$lt": "\U0001f600"}}, {"s": "100% {x}"}, {"s": {"$in": ["100% {x}", "%s"]}},
    {"s": "a\x00"}, {"s": {"$ne": "a\x00"}}, {"s": {"$in": ["a\x00"]}}, {"s": {"$nin": ["a\x00", "z"]}},
    {"s": {"$in": ["a\x00", None]}}, {"s": {"$gt": "a\x00"}}, {"s": {"$gte": "a\x00b"}},
    {"s": {"$lt": "a\x00"}}, {"s": {"$lte": "a\x00"}}, {"s": {"$lt": "\x00"}}, {"s": {"$gte": "\x00"}},
    {"t.x": True}, {"t.x": 1}, {"t": {"$ne": 1}}, {"t.x.y": None},
]


@pytest.fixture(scope="module")
def edge(db):
    with db.cursor() as cur:
        cur.executemany("INSERT INTO docs VALUES ('edge', %s, %s::jsonb)",
                        [(i, json.dumps(m)) for i, m in EDGE_DOCS.items()])
    return db


@pytest.mark.parametrize("where", EDGE_CASES, ids=[repr(w) for w in EDGE_CASES])
def test_edge_cases_match_reference(edge, where):
    """Arrays are never indexed by a digit key, big integers keep every digit, strings
    order by code point whatever the text (%, braces, non-ASCII, a NUL in the operand)."""
    want = {i for i, m in EDGE_DOCS.items() if matches(m, where)}
    assert select(edge, "edge", where) == want


# ---- the SQL itself and invalid filters ----------------------------------------------

def test_compiled_sql_binds_every_value_and_path():
    evil = "x' OR 1=1 --"
    sql, params = compile_where_pg({"a": evil, "b.c": {"$gt": evil}, "d": {"$in": [evil, 1]}, "e": None})
    assert evil not in sql and "OR 1=1" not in sql
    assert sql.count("%s") == len(params) and "%" not in sql.replace("%s", "")
    assert "{" not in sql and "}" not in sql  # safe inside str.format'ed statements
    for key in ("a", "b", "c", "d", "e"):
        assert f"'{key}'" not in sql and key in params  # keys are parameters too
    assert 'COLLATE "C"' in sql


@pytest.mark.parametrize("where, fragments", INVALID, ids=[str(i) for i in range(len(INVALID))])
def test_invalid_filters_raise_the_same_errors_as_sqlite(where, fragments):
    with pytest.raises(EmbkitError) as sqlite:
        compile_where(where)
    with pytest.raises(EmbkitError) as pg:
        compile_where_pg(where)
    assert str(pg.value) == str(sqlite.value)
    for fragment in fragments:
        assert fragment in str(pg.value)


def test_field_name_with_trailing_newline_is_rejected():
    with pytest.raises(EmbkitError, match="invalid field name"):
        compile_where_pg({"a\n": 1})
