"""Metadata-only writes (cluster labels and the like): merged field by field in one
transaction, without moving the generation, and all-or-nothing on bad input."""

import math

import numpy as np
import pytest

import embkit


@pytest.fixture()
def col(tmp_path):
    col = embkit.create(tmp_path / "c", model=None, dim=4)
    col.add(vectors=np.eye(4, dtype=np.float32), ids=["a", "b", "c", "d"], texts=["A", "B", "C", "D"],
            metadatas=[{"keep": 1, "drop": "x"}, {"keep": 2}, {}, {"nested": {"y": 1}}])
    yield col
    col.close()


def test_fields_are_merged_removed_and_filterable(col):
    generation = col.info()["generation"]
    col.merge_metadata({"a": {"cluster": 3, "drop": None}, "b": {"cluster": 1}, "d": {"nested": None}})
    got = {d.id: d.metadata for d in col.get(["a", "b", "c", "d"])}
    assert got == {"a": {"keep": 1, "cluster": 3, "parent": "a"}, "b": {"keep": 2, "cluster": 1, "parent": "b"},
                   "c": {"parent": "c"}, "d": {"parent": "d"}}
    assert col.info()["generation"] == generation  # no index goes stale
    assert [h.id for h in col.search(vector=np.eye(4)[0], k=4, where={"cluster": 3})] == ["a"]


@pytest.mark.parametrize("patches, message", [
    ({"a": {"cluster": 1}, "zz": {"cluster": 2}}, "ids: 1 not found \\(first: 'zz'\\)"),
    ({"a": {"cluster": 1}, "b": {"bad": math.nan}}, "patches\\['b'\\]: not JSON-serializable"),
    ({"a": {"cluster": 1}, "b": {1: "x"}}, "patches\\['b'\\]: expected an object with string keys"),
    ([("a", {"cluster": 1})], "patches: expected a dict of id -> {field: value}"),
])
def test_bad_patches_change_nothing(col, patches, message):
    before = [(d.id, d.metadata) for d in col.get(["a", "b", "c", "d"])]
    with pytest.raises(embkit.EmbkitError, match=message):
        col.merge_metadata(patches)
    assert [(d.id, d.metadata) for d in col.get(["a", "b", "c", "d"])] == before
