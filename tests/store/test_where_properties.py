"""Property-based tests of the `where` compiler (issue 19, item 5), on SQLite and PostgreSQL.

Hypothesis draws documents whose metadata mixes types per field (numbers at the edges of
float and int64 precision, unicode strings with combining marks, right-to-left text and
emoji, booleans, null, lists, nested objects) and filter trees over them ($and/$or,
several keys a dict, every operator); `get`, `count`, filtered `search` and `delete`
must return exactly the documents test_where's pure-Python reference (`matches`) picks.
Strings compare by code point on both backends (SQLite BINARY, PostgreSQL COLLATE "C"),
and $contains/$prefix match by code point too (SQLite instr, PostgreSQL strpos/starts_with).
Stored strings hold no NUL (PostgreSQL refuses it at write time, see
test_write_properties); operands may, right after a stored string, where order is subtle.
"""

import itertools
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import embkit
from embkit.store import field_indexes

from test_where import matches  # the reference, shared with the seeded random trees

pytestmark = pytest.mark.filterwarnings("ignore::embkit.EmbkitWarning")  # absent fields are drawn on purpose

DIM = 8
FIELDS = ["n", "s", "b", "o.x", "o", "k-1", "absent"]
# Small pools shared by metadata and operands, so equal values (the boundaries of
# $gte/$lte, $eq, $in) are common; wide draws keep the rest of the space in play.
EDGE = ["e\u0301", "\u00e9", "\u0627\u0644", "\u202e", "\U0001f600", "\U0001f468\u200d\U0001f469", "a", "A", "_",
        " ", "\uffff", "\U00010348", '"', "\\", "%"]
POOL_NUMBERS = [-2, -1, 0, 1, 2, 0.5, 1.0, -0.0, 2.0, 2**53, 2**53 + 1, 2.0**53, 1e16, 2**63 - 1, -(2**63), 2.0**63,
                1e-300, 1.7976931348623157e308]
short_str = st.lists(st.sampled_from(EDGE), max_size=2).map("".join)
wide_str = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=4)
any_str = st.one_of(short_str, short_str, short_str, wide_str)
INT64 = st.integers(-(2**63), 2**63 - 1)
pool = st.sampled_from(POOL_NUMBERS)
numbers = st.one_of(*[pool] * 6, st.floats(allow_nan=False, allow_infinity=False), INT64)
scalars = st.one_of(numbers, any_str, st.booleans(), st.none())


@st.composite
def metadata(draw) -> dict:
    """Each field absent or of a random type, so type strictness is always exercised."""
    meta = {}
    for field, value in (("n", numbers), ("s", any_str), ("b", st.booleans()),
                         ("k-1", scalars)):
        if draw(st.integers(0, 9)) < 7:
            meta[field] = draw(st.one_of(value, value, value, scalars, st.lists(scalars, max_size=2)))
    shape = draw(st.integers(0, 4))
    if shape == 0:
        meta["o"] = {"x": draw(scalars)}
    elif shape == 1:
        meta["o"] = {"x": {"y": draw(scalars)}}
    elif shape == 2:
        meta["o"] = draw(scalars)
    return meta


def stored_scalars(metas: list[dict]) -> dict[str, list]:
    """The scalar values each filterable field holds: operands drawn from them sit on
    the boundaries of $gte/$lte and hit $eq/$in, where compilers go wrong."""
    from test_where import _MISSING, lookup

    seen: dict[str, list] = {}
    for field in FIELDS:
        values = [lookup(m, field) for m in metas]
        seen[field] = [v for v in values if v is not _MISSING and not isinstance(v, (dict, list))]
    return seen


def with_nul(strings: list[str]):
    """A stored string with a NUL and more after it: sorts just above that string (stored
    strings hold no NUL; PostgreSQL cannot bind one and compares by the prefix)."""
    return [st.sampled_from(strings).map(lambda s: s + "\x00a")] if strings else []


def operand(field: str, seen: dict):
    typical = {"n": numbers, "s": any_str, "b": st.booleans(), "o.x": numbers}.get(field, scalars)
    stored = [st.sampled_from(seen[field])] * 3 if seen.get(field) else []
    return st.one_of(*stored, *with_nul([v for v in seen.get(field, []) if isinstance(v, str)]), typical, scalars)


def comparable(field: str, seen: dict):
    stored = [v for v in seen.get(field, []) if v is not None and not isinstance(v, bool)]
    strings = [v for v in stored if isinstance(v, str)]
    return st.one_of(*[st.sampled_from(stored)] * 3 if stored else [], *with_nul(strings) * 2, numbers, any_str)


def text_operand(field: str, seen: dict):
    """A $contains/$prefix operand: a slice of a stored string (often its start, so
    prefixes hit), "", a LIKE wildcard or escape, or any string."""
    strings = [v for v in seen.get(field, []) if isinstance(v, str)]
    slices = [st.tuples(st.sampled_from(strings), st.sampled_from([0, 0, 1, 2]), st.integers(0, 3)).map(
        lambda t: t[0][t[1]:t[1] + t[2]])] * 3 if strings else []
    return st.one_of(*slices, *with_nul(strings), st.sampled_from(["", "%", "_", "\\", "%_"]), any_str)


@st.composite
def condition(draw, field: str, seen: dict):
    kind = draw(st.sampled_from(["bare", "$eq", "$ne", "$in", "$nin", "cmp", "cmp", "range", "text", "text"]))
    if kind == "text":
        ops = draw(st.lists(st.sampled_from(["$contains", "$prefix"]), min_size=1, max_size=2, unique=True))
        return {op: draw(text_operand(field, seen)) for op in ops}
    if kind == "bare":
        return draw(operand(field, seen))
    if kind in ("$eq", "$ne"):
        return {kind: draw(operand(field, seen))}
    if kind in ("$in", "$nin"):
        return {kind: draw(st.lists(operand(field, seen), min_size=1, max_size=4))}
    ops = draw(st.lists(st.sampled_from(["$gt", "$gte", "$lt", "$lte"]), min_size=1, max_size=2 if kind == "range"
                        else 1, unique=True))
    return {op: draw(comparable(field, seen)) for op in ops}


def _merge(dicts: list[dict]) -> dict:
    """Several conditions in one dict (ANDed); a repeated key keeps the first."""
    out: dict = {}
    for d in dicts:
        for key, value in d.items():
            out.setdefault(key, value)
    return out


def wheres(seen: dict):
    """Filter trees: leaves on one field, $and/$or lists, multi-key dicts, nested."""
    leaf = st.sampled_from(FIELDS).flatmap(lambda f: condition(f, seen).map(lambda c: {f: c}))
    return st.recursive(leaf, lambda inner: st.one_of(
        st.builds(lambda op, subs: {op: subs}, st.sampled_from(["$and", "$or"]),
                  st.lists(inner, min_size=1, max_size=3)),
        st.lists(inner, min_size=2, max_size=3).map(_merge),
    ), max_leaves=6)


@st.composite
def cases(draw):
    """(metadata of each document, filter trees over them)."""
    metas = draw(st.lists(metadata(), min_size=12, max_size=30))
    return metas, draw(st.lists(wheres(stored_scalars(metas)), min_size=6, max_size=10))


names = itertools.count()
SETTINGS = dict(deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


def check(backend, metas: list[dict], trees: list[dict]) -> None:
    docs = {f"d{i:02d}": m for i, m in enumerate(metas)}
    vectors = np.random.default_rng(len(metas)).random((len(docs), DIM)) + 0.1
    with embkit.create(backend(f"p{next(names)}"), model=None, dim=DIM) as col:
        col.add(ids=list(docs), metadatas=metas, vectors=vectors)
        # stored as given (numbers keep their type), each whole record naming itself as its document
        assert [d.metadata for d in col.get()] == [{**m, "parent": i} for i, m in docs.items()]
        for where in trees:
            want = {i for i, m in docs.items() if matches(m, where)}
            why = json.dumps(where, ensure_ascii=False)
            assert {d.id for d in col.get(where=where)} == want, why
            assert col.count(where=where) == len(want), why
            assert {d.id for d in col.get(ids=[*docs, "missing"], where=where)} == want, why
            assert {h.id for h in col.search(vector=vectors[0], k=len(docs), where=where)} == want, why
        where = trees[-1]
        want = {i for i, m in docs.items() if matches(m, where)}
        assert col.delete(where=where) == len(want)
        assert {d.id for d in col.get()} == set(docs) - want


@given(case=cases())
@settings(max_examples=40, **SETTINGS)
def test_random_filters_match_the_reference_on_sqlite(tmp_path, case, monkeypatch):
    monkeypatch.setattr(field_indexes, "INDEX_FROM", 0)  # searches index the fields they filter, and use them
    check(embkit_backend("sqlite", tmp_path), *case)


@given(case=cases())
@settings(max_examples=15, **SETTINGS)
def test_random_filters_match_the_reference_on_postgres(pg_server, case):
    check(embkit_backend("postgres", server=pg_server), *case)


def embkit_backend(name: str, tmp_path=None, server=None):
    from pg_fixtures import Backend

    return Backend(name, tmp_path, server)
