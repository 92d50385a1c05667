"""Property-based tests of the write path (issue 19, item 5), on SQLite and PostgreSQL.

A hypothesis state machine adds, upserts and deletes random batches (unicode edge cases:
combining marks, right-to-left text, emoji, NUL, long strings; metadata nested up to the
depth limit and near the size limit) and keeps a plain-Python model of what must be
stored. After every step `get`, `count` and search must equal the model exactly; a batch
that breaks a documented limit must raise EmbkitError and leave the model's state.
Vectors are precomputed (model=None), so no encoder runs.
"""

import itertools
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import embkit
from embkit import EmbkitError

DIM = 8
MAX_ID_CHARS = 512  # documented limits (validate.py), restated here as the reference
MAX_METADATA_DEPTH = 32
MAX_METADATA_BYTES = 65_536

# Characters that break naive code: combining marks, right-to-left scripts and marks,
# emoji (astral, ZWJ sequences, flags), zero-width and bidi controls, NUL and control
# characters, quotes and backslashes (JSON), dots and `$` (filter syntax).
EDGE = ["e\u0301", "\u0627\u0644\u0639\u0631\u0628\u064a\u0629", "\u05e9\u05dc\u05d5\u05dd", "\u202e", "\u200f",
        "\U0001f600", "\U0001f468\u200d\U0001f469\u200d\U0001f467", "\U0001f1eb\U0001f1f7", "\u200b", "\ufeff",
        "\x00", "\x1f", "\t", '"', "\\", "'", ".", "$", "\u00e9", "\u4e2d\u6587", "\U00010348", "\uffff"]
chars = st.one_of(st.sampled_from(EDGE), st.characters(exclude_categories=("Cs",)))  # Cs: surrogates, invalid
ustr = st.lists(chars, max_size=6).map("".join)
long_str = st.integers(400, 3000).flatmap(lambda n: st.sampled_from(EDGE).map(lambda c: (c * n)[:n]))


def nonblank(s: str) -> bool:
    return bool(s.strip())


texts = st.one_of(ustr.filter(nonblank), long_str.filter(nonblank))
ids = st.one_of(ustr.filter(nonblank), st.integers(MAX_ID_CHARS - 3, MAX_ID_CHARS).map(lambda n: "\u05d0" * n))

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    ustr, long_str)
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(ustr, inner, max_size=3)), max_leaves=8)


def nested(depth: int, leaf) -> dict:
    """An object `depth` levels deep counting itself (objects and lists alternate)."""
    value = leaf
    for level in range(depth - 1):
        value = {"k": value} if level % 2 else [value]
    return {"deep": value} if depth > 1 else {"deep": leaf}


metadatas = st.one_of(
    st.dictionaries(ustr, json_values, max_size=4),
    st.builds(nested, st.integers(MAX_METADATA_DEPTH - 2, MAX_METADATA_DEPTH), json_scalars),
    st.integers(MAX_METADATA_BYTES - 40, MAX_METADATA_BYTES - 12).map(lambda n: {"big": "x" * n}),
)
vectors = st.lists(st.floats(-1, 1, allow_nan=False, width=32), min_size=DIM, max_size=DIM).filter(
    lambda v: np.linalg.norm(v) > 1e-3)


@st.composite
def batches(draw, known: list[str], max_size: int = 4):
    """[(id, text, metadata, vector)]: ids new or taken from `known` (so adds collide)."""
    n = draw(st.integers(1, max_size))
    pool = st.one_of(ids, st.sampled_from(known)) if known else ids
    out = []
    for _ in range(n):
        out.append((draw(pool), draw(texts), draw(metadatas), draw(vectors)))
    return out


# Inputs every door must refuse: (what breaks, how to break a valid document).
def _surrogate(s: str) -> str:
    return s + "\ud800"


INVALID = {
    "lone surrogate in text": lambda d: (d[0], _surrogate(d[1]), d[2], d[3]),
    "lone surrogate in id": lambda d: (_surrogate(d[0]), d[1], d[2], d[3]),
    "lone surrogate in a metadata key": lambda d: (d[0], d[1], {**d[2], "\udfff": 1}, d[3]),
    "lone surrogate in a metadata value": lambda d: (d[0], d[1], {"v": ["ok", {"w": "\udc00"}]}, d[3]),
    "metadata too deep": lambda d: (d[0], d[1], nested(MAX_METADATA_DEPTH + 1, 1), d[3]),
    "metadata far too deep": lambda d: (d[0], d[1], nested(2000, "x"), d[3]),
    "metadata too large": lambda d: (d[0], d[1], {"big": "x" * MAX_METADATA_BYTES}, d[3]),
    "id too long": lambda d: ("i" * (MAX_ID_CHARS + 1), d[1], d[2], d[3]),
    "blank text": lambda d: (d[0], " \t\n", d[2], d[3]),
    "blank id": lambda d: ("  ", d[1], d[2], d[3]),
    "NaN in metadata": lambda d: (d[0], d[1], {"x": float("nan")}, d[3]),
    "NaN in vector": lambda d: (d[0], d[1], d[2], [float("nan")] * DIM),
    "zero vector": lambda d: (d[0], d[1], d[2], [0.0] * DIM),
}


def depth(value) -> int:
    """Objects and lists nested in `value`, counting itself (the reference for the limit)."""
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def storable(backend: str, doc) -> bool:
    """Whether a valid document can be stored on `backend`: metadata never holds U+0000
    (SQLite's JSON functions would cut the string there); PostgreSQL's text cannot hold
    it in an id or text either (refused with a clear error there, stored by SQLite)."""
    return not has_nul(doc[2]) and (backend != "postgres" or not has_nul(doc[:2]))


def has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(has_nul(v) for v in value)
    return False


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


class WritePath(RuleBasedStateMachine):
    """One collection per run; `model` maps id -> (text, metadata, unit vector) in
    insertion order (an upsert keeps a document's place, as the store's row id does)."""

    backend = None  # set by the test
    names = itertools.count()

    @initialize()
    def create(self):
        self.col = embkit.create(self.backend(f"w{next(self.names)}"), model=None, dim=DIM)
        self.model: dict[str, tuple] = {}

    def teardown(self):
        if hasattr(self, "col"):
            self.col.close()

    def _write(self, batch, upsert: bool):
        call = self.col.upsert if upsert else self.col.add
        return call([d[1] for d in batch], ids=[d[0] for d in batch], metadatas=[d[2] for d in batch],
                    vectors=[d[3] for d in batch])

    def _refused(self, batch, upsert: bool, why: str):
        before = self.col.count()
        with pytest.raises(EmbkitError) as e:
            self._write(batch, upsert)
        message = str(e.value)
        assert "\n" not in message and "Traceback" not in message, (why, message)
        assert self.col.count() == before, why

    @rule(data=st.data(), upsert=st.booleans())
    def write(self, data, upsert):
        batch = data.draw(batches(list(self.model)))
        batch_ids = [d[0] for d in batch]
        duplicate = len(set(batch_ids)) < len(batch_ids)
        taken = not upsert and any(i in self.model for i in batch_ids)
        too_big = any(len(json.dumps(d[2])) > MAX_METADATA_BYTES for d in batch)
        if duplicate or taken or too_big or not all(storable(self.backend.name, d) for d in batch):
            self._refused(batch, upsert, "duplicate, taken, too big or not storable")
            return
        assert self._write(batch, upsert) == batch_ids
        for doc_id, text, meta, vector in batch:  # every record names its document: here itself
            self.model[doc_id] = (text, {**meta, "parent": doc_id}, unit(vector))

    @rule(data=st.data(), breakage=st.sampled_from(sorted(INVALID)), upsert=st.booleans())
    def write_invalid(self, data, breakage, upsert):
        batch = data.draw(batches([]))
        batch = [INVALID[breakage](batch[0]), *batch[1:]]  # one bad document rejects its whole batch
        self._refused(batch, upsert, breakage)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def delete_ids(self, data):
        chosen = data.draw(st.lists(st.one_of(st.sampled_from(list(self.model)), ids.filter(storable_anywhere)),
                                    min_size=1, max_size=4))
        present = {i for i in chosen if i in self.model}
        assert self.col.delete(chosen) == len(present)
        for i in present:
            del self.model[i]

    @invariant()
    def store_equals_model(self):
        if not hasattr(self, "col"):
            return
        assert self.col.count() == len(self.model)
        docs = self.col.get(include_vectors=True)
        assert [d.id for d in docs] == list(self.model)  # insertion order
        for doc in docs:
            text, meta, vector = self.model[doc.id]
            assert (doc.text, doc.metadata) == (text, meta), doc.id
            assert np.allclose(doc.vector, vector, atol=1e-6), doc.id
        wanted = list(self.model)[-3:]
        assert [d.id for d in self.col.get(wanted + ["\u2603 absent"])] == wanted
        if self.model:
            doc_id = list(self.model)[-1]
            hits = self.col.search(vector=self.model[doc_id][2], k=len(self.model))
            assert sorted(h.id for h in hits) == sorted(self.model)
            assert hits[0].score == pytest.approx(1.0, abs=1e-5)


def storable_anywhere(doc_id: str) -> bool:
    return "\x00" not in doc_id


def test_write_path_matches_a_reference_model(backend):
    """Random add/upsert/delete sequences against the model; invalid batches refused."""
    WritePath.backend = backend
    run_state_machine_as_test(WritePath, settings=settings(
        max_examples=10 if backend.postgres else 15, stateful_step_count=6, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]))


def test_big_floats_come_back_as_the_same_floats(backend):
    """Found by the machine above on PostgreSQL: jsonb keeps numbers as `numeric`, so a
    float Python writes with an exponent (1e+16 and up) came back as an int, and most
    as another number (1.5e300 as 15 followed by 299 zeros)."""
    values = {"a": 1e16, "b": -1.5e300, "c": 1.7976931348623157e308, "d": 12345678901234567890.0, "e": 5e-324,
              "f": [2.5e20, {"g": -0.0}], "h": 123, "i": 10**30, "j": "1e+16"}
    with embkit.create(backend("f"), model=None, dim=DIM) as col:
        col.add(["t"], ids=["x"], metadatas=[values], vectors=[[1.0] * DIM])
        got = col.get(["x"])[0].metadata
        assert got == {**values, "parent": "x"}
        assert [type(got[k]) for k in "abcdehij"] == [float, float, float, float, float, int, int, str]
        assert type(got["f"][0]) is float
        assert col.count(where={"a": 1e16}) == 1 and col.count(where={"c": {"$gt": 1e308}}) == 1
        for key in "abcd":  # a filter binds the shortest repr: it must equal what was stored
            assert col.count(where={key: values[key]}) == 1, key
            assert col.count(where={key: {"$gte": values[key], "$lte": values[key]}}) == 1, key
