"""outliers and duplicates with `reading` (a server's read lock, held to read the rows
and per batch of index searches) answer of the rows as read even when a write lands
between batches. Before, later batches searched the live index: a row deleted
meanwhile was in the answer while its neighbours were scored as if it were gone, and
a row upserted meanwhile joined a group under its new vector. The `reading` hook here
makes the write at an exact point: after the rows were read and the first batch ran."""

import contextlib

import numpy as np

import embkit
from embkit.analysis import duplicates as duplicates_module, outliers as outliers_module
from embkit.analysis.duplicates import duplicates
from embkit.analysis.outliers import outliers


def _writing_at(entry: int, write):
    """A `reading` hook that runs `write` as its `entry`-th hold begins (1: reading the rows)."""
    entries = [0]

    @contextlib.contextmanager
    def reading():
        entries[0] += 1
        if entries[0] == entry:
            write()
        yield

    return reading


def test_outliers_with_a_delete_between_batches_score_the_rows_as_read(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 8)).astype(np.float32) * 0.1
    x[:, 0] += 1  # a tight cluster of 40
    far = np.zeros(8, np.float32)
    far[1] = 5
    x = np.vstack([x, far, far + 0.01])  # X and Y: a far pair, each the other's nearest
    col = embkit.create(tmp_path / "c", model=None, dim=8, metric="l2")
    col.add(ids=[f"d{i}" for i in range(40)] + ["X", "Y"], vectors=x)
    before = outliers(col, top=42, k=1)
    monkeypatch.setattr(outliers_module, "BATCH", 21)  # two batches; X and Y in the second
    got = outliers(col, top=42, k=1, reading=_writing_at(3, lambda: col.delete(["X"])))
    assert col.count() == 41  # the delete landed
    scores, expected = {o.id: o.score for o in got}, {o.id: o.score for o in before}
    assert scores.keys() == expected.keys()  # X is in the answer, as read
    # the later batch is searched exactly: scores equal the index's to float32 rounding (X-Y's 0.0283 comes
    # from squared norms near 25 each, so 1e-4), and near ties may swap places
    np.testing.assert_allclose([scores[i] for i in expected], list(expected.values()), atol=1e-4)
    assert abs(scores["Y"] - 0.01 * np.sqrt(8)) < 1e-4  # Y's nearest is X, as read (was 4.93: X gone)


def test_duplicates_with_an_upsert_between_batches_group_the_rows_as_read(tmp_path, monkeypatch):
    e = np.eye(4, dtype=np.float32)
    near_a = (e[0] + 0.05 * e[1]) / np.linalg.norm(e[0] + 0.05 * e[1])
    col = embkit.create(tmp_path / "c", model=None, dim=4, metric="cosine")
    col.add(ids=["a", "z", "b", "c"], vectors=np.stack([e[0], e[3], near_a, e[2]]))
    monkeypatch.setattr(duplicates_module, "BATCH", 2)  # two batches: a, z then b, c
    # c moves onto a (keeping its row id) after the first batch: the second searched it there
    got = duplicates(col, 0.95, k=1, reading=_writing_at(3, lambda: col.upsert(ids=["c"], vectors=e[:1])))
    assert np.allclose(col.get(["c"], include_vectors=True)[0].vector, e[0])  # the upsert landed
    assert [g.ids for g in got] == [["a", "b"]]  # as read: c was far from both
    assert got[0].pairs[0][:2] == ("a", "b") and abs(got[0].pairs[0][2] - float(near_a[0])) < 1e-5
