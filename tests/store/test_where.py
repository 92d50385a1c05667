"""`where` filters: results computed in SQL checked against a pure-Python reference.

The reference (`matches`) implements the documented semantics independently of the SQL
compiler; random metadata and random where trees compare the two on `get`, `count`,
`search` and `delete`. Hand-written cases pin exact ids; invalid filters must raise an
`EmbkitError` naming the offending path and leave the collection untouched.
"""

import json
import operator
import random

import numpy as np
import pytest

import embkit
from embkit import EmbkitError
from embkit.store import compile_where, parse_where

# Trees name absent fields on purpose; their warnings are tested in test_where_warnings.py.
pytestmark = pytest.mark.filterwarnings("ignore::embkit.EmbkitWarning")

DIM = 4
N_DOCS = 300
DATA_SEEDS = (0, 1, 2)
TREES_PER_SEED = 150  # x 3 seeds = 450 trees without null operands, as many with



# ---- the reference -------------------------------------------------------------------

_MISSING = object()
_COMPARE = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}
TEXT_OPS = ("$contains", "$prefix")


def lookup(metadata: dict, field: str):
    """The value at dotted `field`, or `_MISSING` if a step is absent or not an object."""
    value = metadata
    for part in field.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def kind(value) -> str:
    """Type class for strict comparisons: booleans are not numbers, 1 and 1.0 are."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"  # objects and arrays never equal a scalar operand


def equals(value, operand) -> bool:
    """Type-strict equality; a None operand matches explicit null or a missing field."""
    if operand is None:
        return value is None or value is _MISSING
    if value is _MISSING:
        return False
    return kind(value) == kind(operand) and value == operand


def field_matches(value, condition) -> bool:
    """One field's condition: a bare value (equality) or an {operator: operand} dict,
    whose operators are ANDed."""
    if not isinstance(condition, dict):
        return equals(value, condition)
    for op, operand in condition.items():
        if op == "$eq":
            ok = equals(value, operand)
        elif op == "$ne":
            ok = not equals(value, operand)
        elif op == "$in":
            ok = any(equals(value, v) for v in operand)
        elif op == "$nin":
            ok = not any(equals(value, v) for v in operand)
        elif op in _COMPARE:  # only values of the operand's type class take part
            ok = (value is not _MISSING and kind(value) == kind(operand)
                  and _COMPARE[op](value, operand))
        elif op == "$contains":  # strings only, by code point ("" is in every string)
            ok = kind(value) == "string" and operand in value
        elif op == "$prefix":
            ok = kind(value) == "string" and value.startswith(operand)
        else:
            raise AssertionError(f"reference: unknown operator {op}")
        if not ok:
            return False
    return True


def matches(metadata: dict, where: dict) -> bool:
    """Whether a document's metadata satisfies `where` (the documented semantics).

    Keys of one dict are ANDed; `$and` / `$or` take lists of sub-filters; any other key is
    a (dotted) field name. Strings compare like Python `str` (= SQLite BINARY for ASCII).
    """
    for key, value in where.items():
        if key == "$and":
            ok = all(matches(metadata, w) for w in value)
        elif key == "$or":
            ok = any(matches(metadata, w) for w in value)
        else:
            ok = field_matches(lookup(metadata, key), value)
        if not ok:
            return False
    return True


def test_reference_sanity():
    """A few spot checks of the reference itself."""
    assert matches({"a": 1.0}, {"a": 1}) and not matches({"a": True}, {"a": 1})
    assert not matches({"a": "1"}, {"a": 1}) and matches({}, {"a": None})
    assert matches({}, {"a": {"$ne": 1}}) and not matches({}, {"a": {"$gt": 0}})
    assert matches({"o": {"x": 2}}, {"o.x": {"$gte": 2}}) and not matches({"o": 5}, {"o.x": 5})
    assert matches({"s": "abc"}, {"s": {"$contains": "b", "$prefix": "ab"}})
    assert matches({"s": ""}, {"s": {"$prefix": ""}}) and not matches({}, {"s": {"$prefix": ""}})
    assert not matches({"s": 12}, {"s": {"$contains": "1"}}) and not matches({"s": "Abc"}, {"s": {"$prefix": "a"}})
    assert not matches({"s": ["abc"]}, {"s": {"$contains": "abc"}})


# ---- random metadata and where trees -------------------------------------------------

ALPHABET = "abA_ "  # small, so equality hits; space and _ test BINARY order
BIG = 2**53 + 1  # not exactly representable as a float: exercises int/float comparison


def random_string(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.choice((0, 1, 1, 1, 2, 2, 3))))


def random_number(rng: random.Random):
    if rng.random() < 0.7:
        return rng.randint(-3, 3)
    return rng.choice([0.5, 2.0, -1.5, 3.0, -0.0, 1e-9, float(2**53), BIG, -BIG])


def random_metadata(rng: random.Random) -> dict:
    """Metadata with mixed types per field, so type strictness is always exercised."""
    meta = {}
    r = rng.random()  # n: mostly numbers, sometimes a numeric string, a bool, null, absent
    if r < 0.55:
        meta["n"] = random_number(rng)
    elif r < 0.65:
        meta["n"] = str(rng.randint(-3, 3))
    elif r < 0.75:
        meta["n"] = rng.random() < 0.5
    elif r < 0.85:
        meta["n"] = None
    r = rng.random()  # s: short ASCII strings, sometimes a number, a list or null
    if r < 0.65:
        meta["s"] = random_string(rng)
    elif r < 0.75:
        meta["s"] = rng.randint(0, 2)
    elif r < 0.8:
        meta["s"] = [random_string(rng)]
    elif r < 0.85:
        meta["s"] = None
    r = rng.random()  # b: bools, sometimes 0/1 (which must not equal false/true)
    if r < 0.6:
        meta["b"] = rng.random() < 0.5
    elif r < 0.7:
        meta["b"] = rng.randint(0, 1)
    r = rng.random()  # nested: {"x": int} mostly; odd shapes sometimes
    if r < 0.5:
        meta["nested"] = {"x": rng.randint(-2, 2)}
    elif r < 0.55:
        meta["nested"] = {"x": str(rng.randint(-2, 2))}
    elif r < 0.6:
        meta["nested"] = {"x": None}
    elif r < 0.65:
        meta["nested"] = {"x": {"y": rng.randint(0, 2)}}
    elif r < 0.7:
        meta["nested"] = {}
    elif r < 0.75:
        meta["nested"] = rng.choice([5, "nested", None])
    if rng.random() < 0.3:
        meta["k-1"] = rng.randint(0, 2)  # hyphens are allowed in field names
    return meta


FIELDS = (["n"] * 4 + ["s"] * 3 + ["b"] * 2 + ["nested.x"] * 2
          + ["nested", "nested.x.y", "k-1", "absent"])  # weights by repetition


TYPICAL = {  # operands that the field's values mostly have, so many trees match something
    "n": random_number, "s": random_string, "b": lambda r: r.random() < 0.5,
    "nested.x": lambda r: r.randint(-2, 2), "nested.x.y": lambda r: r.randint(0, 2),
    "k-1": lambda r: r.randint(0, 2),
}


def random_operand(rng: random.Random, field: str, nulls: bool):
    """Any scalar an equality-style operator accepts; usually of the field's usual type."""
    if field in TYPICAL and rng.random() < 0.6:
        return TYPICAL[field](rng)
    choices = [random_number, random_number, random_string,
               lambda r: str(r.randint(-3, 3)), lambda r: r.random() < 0.5]
    if nulls:
        choices.append(lambda r: None)
    return rng.choice(choices)(rng)


def random_comparable(rng: random.Random, field: str):
    """A number or a string: what $gt/$gte/$lt/$lte accept."""
    if field == "s" and rng.random() < 0.6:
        return random_string(rng)
    return random_number(rng) if rng.random() < 0.6 else random_string(rng)


def random_text_operand(rng: random.Random) -> str:
    """A $contains/$prefix operand: mostly a short string over the data's alphabet ("" and
    "_" included), sometimes a LIKE wildcard or escape that the data never holds."""
    return random_string(rng) if rng.random() < 0.85 else rng.choice(["%", "\\", "a%", "_%", "\\_"])


def random_condition(rng: random.Random, field: str, nulls: bool):
    r = rng.random()
    if r < 0.2:
        return random_operand(rng, field, nulls)  # bare value: equality
    if r < 0.3:
        return {"$eq": random_operand(rng, field, nulls)}
    if r < 0.45:
        return {"$ne": random_operand(rng, field, nulls)}
    if r < 0.55:
        return {"$in": [random_operand(rng, field, nulls) for _ in range(rng.randint(1, 4))]}
    if r < 0.65:
        return {"$nin": [random_operand(rng, field, nulls) for _ in range(rng.randint(1, 4))]}
    if r < 0.82:
        return {rng.choice(list(_COMPARE)): random_comparable(rng, field)}
    if r < 0.92:
        return {rng.choice(list(TEXT_OPS)): random_text_operand(rng)}
    # several operators on one field (a range, a range plus $ne, a prefix and a substring)
    ops = rng.sample(list(_COMPARE) + ["$ne", *TEXT_OPS], 2)
    return {op: random_comparable(rng, field) if op in _COMPARE
            else random_text_operand(rng) if op in TEXT_OPS else random_operand(rng, field, nulls) for op in ops}


def random_where(rng: random.Random, nulls: bool, depth: int = 0) -> dict:
    """A random tree: $and/$or nested up to 3 levels, multi-key dicts, every operator."""
    r = rng.random()
    if depth < 3 and r < 0.35:
        op = rng.choice(["$and", "$or", "$or"])
        return {op: [random_where(rng, nulls, depth + 1) for _ in range(rng.randint(1, 3))]}
    if r < 0.5:  # several keys in one dict are ANDed (sometimes with a nested $or)
        where = {f: random_condition(rng, f, nulls) for f in rng.sample(sorted(set(FIELDS)), 2)}
        if depth < 3 and rng.random() < 0.3:
            where["$or"] = [random_where(rng, nulls, depth + 1) for _ in range(2)]
        return where
    field = rng.choice(FIELDS)
    return {field: random_condition(rng, field, nulls)}


# ---- fixtures ------------------------------------------------------------------------

def make_collection(path, metadatas: list[dict], seed: int = 0):
    """A model-less collection with non-zero random vectors (cosine needs a direction)."""
    col = embkit.create(path, model=None, dim=DIM)
    ids = [f"d{i:03d}" for i in range(len(metadatas))]
    vectors = np.random.default_rng(seed).random((len(ids), DIM)) + 0.1
    col.add(ids=ids, metadatas=metadatas, vectors=vectors)
    return col, ids


@pytest.fixture(scope="module", params=DATA_SEEDS, ids=lambda s: f"data{s}")
def corpus(request, tmp_path_factory):
    """(seed, collection, {id: metadata}) with N_DOCS random documents."""
    seed = request.param
    rng = random.Random(seed)
    metadatas = [random_metadata(rng) for _ in range(N_DOCS)]
    col, ids = make_collection(tmp_path_factory.mktemp(f"where{seed}") / "c", metadatas, seed)
    yield seed, col, dict(zip(ids, metadatas))
    col.close()


def expected_ids(docs: dict, where: dict) -> set[str]:
    return {i for i, meta in docs.items() if matches(meta, where)}


def explain(where: dict, got: set, want: set, docs: dict) -> str:
    """A failure message: the tree, then a few documents on each side of the disagreement."""
    lines = [f"where = {json.dumps(where)}", f"got {len(got)} ids, reference {len(want)}"]
    for label, extra in (("SQL only", got - want), ("reference only", want - got)):
        for i in sorted(extra)[:5]:
            lines.append(f"  {label}: {i} {json.dumps(docs[i])}")
    return "\n".join(lines)


# ---- random trees: SQL == reference --------------------------------------------------

def check_trees(corpus, nulls: bool):
    seed, col, docs = corpus
    rng = random.Random(1000 * seed + nulls)
    query = np.random.default_rng(seed).random(DIM) + 0.1
    all_ids = list(docs)
    for _ in range(TREES_PER_SEED):
        where = random_where(rng, nulls)
        want = expected_ids(docs, where)
        found = [d.id for d in col.get(where=where)]
        assert len(found) == len(set(found)), f"duplicates for {json.dumps(where)}"
        assert set(found) == want, explain(where, set(found), want, docs)
        assert col.count(where=where) == len(want), json.dumps(where)
        by_ids = {d.id for d in col.get(ids=all_ids, where=where)}
        assert by_ids == want, explain(where, by_ids, want, docs)
        hits = {h.id for h in col.search(vector=query, k=N_DOCS, where=where)}
        assert hits == want, explain(where, hits, want, docs)


def test_random_trees_match_reference(corpus):
    """Trees without null operands: every operator, type strictness, nesting, dotted fields."""
    check_trees(corpus, nulls=False)


def test_random_trees_with_null_operands_match_reference(corpus):
    """Same, with None operands in equality, $ne, $in and $nin."""
    check_trees(corpus, nulls=True)


def test_random_trees_delete_exactly_the_matching_documents(tmp_path):
    """`delete(where=...)` removes the reference's matches and nothing else."""
    rng = random.Random(7)
    metadatas = [random_metadata(rng) for _ in range(120)]
    for t in range(12):
        where = random_where(rng, nulls=False)
        col, ids = make_collection(tmp_path / f"c{t}", metadatas)
        want = expected_ids(dict(zip(ids, metadatas)), where)
        assert col.delete(where=where) == len(want), json.dumps(where)
        assert {d.id for d in col.get(where={})} == set(ids) - want, json.dumps(where)
        col.close()


# ---- hand-written cases --------------------------------------------------------------

DOCS = {
    "int1": {"v": 1},
    "float1": {"v": 1.0},
    "str1": {"v": "1"},
    "true": {"v": True},
    "false": {"v": False},
    "zero": {"v": 0},
    "two": {"v": 2},
    "twof": {"v": 2.0},
    "empty": {"v": ""},
    "strb": {"v": "b"},
    "strB": {"v": "B"},
    "strab": {"v": "ab"},
    "inject": {"v": "x' OR 1=1 --"},
    "list": {"v": [1, 2]},
    "obj": {"v": {"a": 1}},
    "null": {"v": None},
    "missing": {},
    "nested": {"o": {"x": 1, "y": {"z": "deep"}}},
    "nested_null": {"o": {"x": None}},
    "nested_flat": {"o": 5},
    "dotted_key": {"o.x": 1},
    # strings for $contains / $prefix: LIKE's wildcards and escape, case, unicode
    "t_pct": {"t": "50% off_now"},
    "t_under": {"t": "a_b"},
    "t_back": {"t": "C:\\dir\\"},
    "t_upper": {"t": "ABC"},
    "t_lower": {"t": "abc"},
    "t_accent": {"t": "\u00e9t\u00e9"},  # été, precomposed
    "t_decomposed": {"t": "e\u0301te\u0301"},  # été, e + combining acute
    "t_emoji": {"t": "\U0001f600 smile"},
    "t_empty": {"t": ""},
    "t_number": {"t": 50},
    "t_list": {"t": ["abc"]},
    "t_nested": {"tn": {"s": "abc"}},
}
ALL = set(DOCS)
NO_V = {i for i, m in DOCS.items() if "v" not in m}  # missing, nested*, dotted_key


@pytest.fixture(scope="module")
def fixed(tmp_path_factory):
    """A collection holding DOCS under their own ids."""
    col = embkit.create(tmp_path_factory.mktemp("fixed") / "c", model=None, dim=DIM)
    col.add(ids=list(DOCS), metadatas=list(DOCS.values()),
            vectors=np.random.default_rng(0).random((len(DOCS), DIM)) + 0.1)
    yield col
    col.close()


CASES = [
    # type strictness: 1 == 1.0, never "1" or true
    ({"v": 1}, {"int1", "float1"}),
    ({"v": 1.0}, {"int1", "float1"}),
    ({"v": {"$eq": 2}}, {"two", "twof"}),
    ({"v": 2.0}, {"two", "twof"}),
    ({"v": "1"}, {"str1"}),
    ({"v": True}, {"true"}),
    ({"v": False}, {"false"}),
    ({"v": 0}, {"zero"}),
    ({"v": ""}, {"empty"}),
    ({"v": {"$in": [0, False, ""]}}, {"zero", "false", "empty"}),
    ({"v": {"$in": [True, "1"]}}, {"true", "str1"}),
    # $ne / $nin are NOT equality: they match documents lacking the field
    ({"v": {"$ne": 1}}, ALL - {"int1", "float1"}),
    ({"v": {"$ne": True}}, ALL - {"true"}),
    ({"v": {"$nin": [1, "b"]}}, ALL - {"int1", "float1", "strb"}),
    ({"o.x": {"$ne": 1}}, ALL - {"nested"}),
    # comparisons only see values of the operand's type class
    ({"v": {"$gt": 0}}, {"int1", "float1", "two", "twof"}),
    ({"v": {"$gte": 0}}, {"zero", "int1", "float1", "two", "twof"}),
    ({"v": {"$lt": 1.5}}, {"zero", "int1", "float1"}),
    ({"v": {"$lte": -1}}, set()),
    ({"v": {"$gt": 0, "$lt": 2}}, {"int1", "float1"}),
    # strings compare bytewise (BINARY): "" < "1" < "B" < "ab" < "b" < "x' OR..."
    ({"v": {"$gt": "a"}}, {"strb", "strab", "inject"}),
    ({"v": {"$lt": "a"}}, {"empty", "str1", "strB"}),
    ({"v": {"$gte": "ab", "$lt": "b"}}, {"strab"}),
    ({"v": {"$lte": ""}}, {"empty"}),
    # values are bound parameters: an injection attempt is just a string
    ({"v": "x' OR 1=1 --"}, {"inject"}),
    ({"v": "x' OR 1=1"}, set()),
    ({"v": "1' OR '1'='1"}, set()),
    # nested fields; a dotted key in the data is not a path
    ({"o.x": 1}, {"nested"}),
    ({"o.y.z": "deep"}, {"nested"}),
    ({"o.x": {"$gt": 0}}, {"nested"}),
    ({"o": 5}, {"nested_flat"}),
    ({"o.x.y": 1}, set()),
    # $and / $or / several keys
    ({"v": 1, "o.x": 1}, set()),
    ({"$or": [{"v": 1}, {"o.x": 1}]}, {"int1", "float1", "nested"}),
    ({"$and": [{"v": {"$gte": 1}}, {"v": {"$lte": 2}}]}, {"int1", "float1", "two", "twof"}),
    ({"$or": [{"v": "b"}, {"$and": [{"v": {"$gt": 1}}, {"v": {"$ne": 2.0}}]}]}, {"strb"}),
    ({"v": {"$ne": 1}, "$or": [{"v": {"$lt": 2}}, {"v": "B"}]}, {"zero", "strB"}),
    # $contains / $prefix: strings only, case-sensitive, no wildcards, "" in every string
    ({"t": {"$contains": "%"}}, {"t_pct"}),
    ({"t": {"$contains": "_"}}, {"t_pct", "t_under"}),
    ({"t": {"$contains": "a_b"}}, {"t_under"}),
    ({"t": {"$contains": "a%b"}}, set()),
    ({"t": {"$prefix": "%"}}, set()),
    ({"t": {"$prefix": "_"}}, set()),
    ({"t": {"$prefix": "a_"}}, {"t_under"}),
    ({"t": {"$contains": "\\"}}, {"t_back"}),
    ({"t": {"$prefix": "C:\\d"}}, {"t_back"}),
    ({"t": {"$contains": "\\_"}}, set()),
    ({"t": {"$contains": "b"}}, {"t_under", "t_lower"}),
    ({"t": {"$contains": "B"}}, {"t_upper"}),
    ({"t": {"$prefix": "a"}}, {"t_under", "t_lower"}),
    ({"t": {"$prefix": "A"}}, {"t_upper"}),
    ({"t": {"$contains": "abc"}}, {"t_lower"}),  # not the list holding "abc"
    ({"t": {"$contains": "50"}}, {"t_pct"}),  # not the number 50
    ({"t": {"$contains": ""}}, {"t_pct", "t_under", "t_back", "t_upper", "t_lower", "t_accent", "t_decomposed",
                                "t_emoji", "t_empty"}),
    ({"t": {"$prefix": ""}, "$or": [{"t": {"$contains": "e"}}, {"t": ""}]}, {"t_decomposed", "t_emoji", "t_empty"}),
    ({"t": {"$contains": "\u00e9"}}, {"t_accent"}),  # precomposed é, not e + combining mark
    ({"t": {"$contains": "\u0301t"}}, {"t_decomposed"}),
    ({"t": {"$prefix": "\U0001f600 "}}, {"t_emoji"}),
    ({"t": {"$contains": "smile", "$prefix": "\U0001f600"}}, {"t_emoji"}),
    ({"t": {"$contains": "abc\x00"}}, set()),
    ({"t": {"$prefix": "abc", "$ne": "abc"}}, set()),
    ({"tn.s": {"$prefix": "ab"}}, {"t_nested"}),
    ({"tn": {"$contains": "a"}}, set()),
    ({"v": {"$prefix": "x' OR"}}, {"inject"}),
    ({"v": {"$contains": "1"}}, {"str1", "inject"}),
]


@pytest.mark.parametrize("where, want", CASES, ids=[json.dumps(w) for w, _ in CASES])
def test_exact_cases(fixed, where, want):
    assert {i for i, m in DOCS.items() if matches(m, where)} == want  # the reference agrees
    assert {d.id for d in fixed.get(where=where)} == want
    assert fixed.count(where=where) == len(want)
    assert {h.id for h in fixed.search(vector=np.ones(DIM), k=len(DOCS), where=where)} == want


def test_explicit_null_is_not_zero_false_or_empty(fixed):
    """An explicit null matches {"v": None} and no other scalar (either null semantics)."""
    assert "null" in {d.id for d in fixed.get(where={"v": None})}
    for other in (0, False, "", "null"):
        assert "null" not in {d.id for d in fixed.get(where={"v": other})}


NULL_CASES = [
    ({"v": None}, {"null"} | NO_V),
    ({"o.x": None}, ALL - {"nested"}),
    ({"v": {"$ne": None}}, ALL - {"null"} - NO_V),
    ({"v": {"$in": [None, 1]}}, {"null", "int1", "float1"} | NO_V),
    ({"v": {"$nin": [None]}}, ALL - {"null"} - NO_V),
]


@pytest.mark.parametrize("where, want", NULL_CASES, ids=[json.dumps(w) for w, _ in NULL_CASES])
def test_null_matches_null_or_missing(fixed, where, want):
    assert {i for i, m in DOCS.items() if matches(m, where)} == want
    assert {d.id for d in fixed.get(where=where)} == want


# ---- invalid filters -----------------------------------------------------------------

def nested(depth: int) -> dict:
    where = {"v": 1}
    for _ in range(depth):
        where = {"$and": [where]}
    return where


INVALID = [
    ({"a": {"$foo": 1}}, ["where.a", "$foo"]),
    ({"$xor": []}, ["$xor"]),
    ({"$and": []}, ["where.$and"]),
    ({"$or": {"a": 1}}, ["where.$or"]),
    ({"$and": [1]}, ["where.$and[0]"]),
    ({"$or": [{"a": 1}, {}]}, ["where.$or[1]"]),
    ({"a": {}}, ["where.a"]),
    ({"a": {"$in": []}}, ["where.a.$in"]),
    ({"a": {"$in": 1}}, ["where.a.$in"]),
    ({"a": {"$nin": "ab"}}, ["where.a.$nin"]),
    ({"a": {"$in": list(range(10_001))}}, ["where.a.$in"]),
    ({"a": {"$in": [1, [2]]}}, ["where.a.$in[1]"]),
    ({"a": [1, 2]}, ["where.a"]),
    ({"a": {"$eq": {"b": 1}}}, ["where.a.$eq"]),
    ({"a": {"$ne": [1]}}, ["where.a.$ne"]),
    ({"a": {"b": 1}}, ["where.a", "'b'"]),
    ({"a": {"$gt": True}}, ["where.a.$gt"]),
    ({"a": {"$lt": None}}, ["where.a.$lt"]),
    ({"a": {"$gte": [1]}}, ["where.a.$gte"]),
    ({"title": {"$prefix": 1}}, ["where.title.$prefix: expected a string"]),
    ({"a.b": {"$contains": None}}, ["where.a.b.$contains: expected a string"]),
    ({"a": {"$contains": ["x"]}}, ["where.a.$contains: expected a string"]),
    ({"a": {"$prefix": True}}, ["where.a.$prefix: expected a string"]),
    ({"a b": 1}, ["a b"]),
    ({"a'--": 1}, ["a'--"]),
    ({'a") OR 1=1 --': 1}, ["OR 1=1"]),
    ({"a..b": 1}, ["a..b"]),
    ({".a": 1}, [".a"]),
    ({"a.": 1}, ["a."]),
    ({"": 1}, ["where."]),
    ({"a": float("nan")}, ["where.a", "finite"]),
    ({"a": {"$gt": float("inf")}}, ["where.a.$gt", "finite"]),
    ({"a": {"$in": [1, float("nan")]}}, ["where.a.$in[1]", "finite"]),
    ({"a": 2**64}, ["where.a", "64-bit"]),
    (nested(33), ["nested deeper than 32"]),
    ([{"a": 1}], ["where"]),
    ("a = 1", ["where"]),
]


@pytest.mark.parametrize("where, fragments", INVALID, ids=[str(i) for i in range(len(INVALID))])
def test_invalid_filters_raise_and_change_nothing(fixed, where, fragments):
    before = [(d.id, d.metadata) for d in fixed.get(where={})]
    calls = [lambda: fixed.get(where=where), lambda: fixed.count(where=where),
             lambda: fixed.search(vector=np.ones(DIM), where=where),
             lambda: fixed.get(ids=["int1"], where=where), lambda: fixed.delete(where=where),
             lambda: compile_where(where)]
    for call in calls:
        with pytest.raises(EmbkitError) as info:
            call()
        message = str(info.value)
        assert message.startswith("where"), message
        for fragment in fragments:
            assert fragment in message, message
    assert [(d.id, d.metadata) for d in fixed.get(where={})] == before


def test_depth_32_is_allowed(fixed):
    assert {d.id for d in fixed.get(where=nested(32))} == {"int1", "float1"}


def test_field_name_with_trailing_newline_is_rejected():
    with pytest.raises(EmbkitError, match="invalid field name"):
        compile_where({"a\n": 1})


@pytest.mark.parametrize("where", [{"v": {"$in": list(range(1000))}},
                                   {"v": {"$nin": list(range(5000))}},
                                   {"$or": [{"v": i} for i in range(1000)]}],
                         ids=["in1000", "nin5000", "or1000"])
def test_large_but_allowed_filters_work(fixed, where):
    want = {i for i, m in DOCS.items() if matches(m, where)}
    assert {d.id for d in fixed.get(where=where)} == want


# ---- parse_where and the SQL itself --------------------------------------------------

@pytest.mark.parametrize("text", ["{not json", '{"a": 1', "", "{'a': 1}"])
def test_parse_where_malformed_json(text):
    with pytest.raises(EmbkitError, match=r"^where: not valid JSON"):
        parse_where(text)


def test_parse_where_validates_and_returns_the_dict():
    assert parse_where('{"n": {"$gte": 2}, "$or": [{"s": "a"}]}') == {"n": {"$gte": 2}, "$or": [{"s": "a"}]}
    with pytest.raises(EmbkitError, match=r"\$foo"):
        parse_where('{"a": {"$foo": 1}}')
    with pytest.raises(EmbkitError, match="finite"):
        parse_where('{"a": NaN}')
    with pytest.raises(EmbkitError, match="^where"):
        parse_where("[1]")


def test_compile_where_is_sql_with_bound_parameters():
    """Filtering happens in SQL (JSON1 functions), with every value a parameter."""
    sql, params = compile_where({"a": 1})
    assert isinstance(sql, str) and "json_" in sql and isinstance(params, list) and 1 in params
    assert compile_where(None) == ("1", []) and compile_where({}) == ("1", [])
    evil = "x' OR 1=1 --"
    sql, params = compile_where({"a": evil, "b": {"$gt": evil}, "c": {"$in": [evil]}})
    assert evil not in sql and "OR 1=1" not in sql and params.count(evil) == 3
    assert sql.count("?") == len(params)


def test_list_limits_are_named():
    with pytest.raises(EmbkitError, match=r"^where\.\$or: more than 1000 conditions"):
        compile_where({"$or": [{"v": i} for i in range(1001)]})
    with pytest.raises(EmbkitError, match=r"^where\.v\.\$in: expected a list of 1 to 10000 values"):
        compile_where({"v": {"$in": list(range(10_001))}})
    with pytest.raises(EmbkitError, match=r"^where: filter too large \(\d+ parameters; the limit is 30000\)"):
        compile_where({"$and": [{"v": {"$in": list(range(10_000))}}] * 4})
