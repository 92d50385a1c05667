"""upload_recovery._named: which copies of a dead write's note a document's path names,
found in one pass over the paths, not one filter condition per name: each condition is
tested on every document (a 500-branch $or of $contains per 500 names took 17 s at
60,000 documents, holding the upload folder's lock while a server started)."""

import json

import numpy as np

import embkit
from embkit.server.upload_recovery import _named
from embkit.store.sqlite import SQLiteStore


def test_named_copies_are_found_with_one_condition_whatever_the_names(tmp_path, monkeypatch):
    col = embkit.create(tmp_path / "c")
    rows = 300
    col.add(["t"] * rows, ids=[f"d{i}" for i in range(rows)],
            metadatas=[{"path": f"/moved/c/images/{i:040x}.png"} for i in range(rows)],  # an older location
            vectors=np.random.default_rng(0).standard_normal((rows, 384)).astype(np.float32))
    col.add(["u"], ids=["elsewhere"], metadatas=[{"path": f"/photos/{7:040x}.jpg"}],  # found by name, as _kept_copy
            vectors=np.ones((1, 384), np.float32))
    names = [f"{i:040x}.png" for i in range(0, rows, 7)] + [f"{i:040x}.jpg" for i in range(1200)]
    conditions = []
    for method in ("find", "rowids", "count"):
        original = getattr(SQLiteStore, method)

        def spy(self, where=None, *args, _original=original, **kwargs):
            conditions.append(json.dumps(where).count('"$contains"'))
            return _original(self, where, *args, **kwargs)
        monkeypatch.setattr(SQLiteStore, method, spy)
    assert _named(col, names) == {f"{i:040x}.png" for i in range(0, rows, 7)} | {f"{7:040x}.jpg"}
    assert sum(conditions) <= 1, conditions  # 1,243 before: one $contains per name
    col.close()
