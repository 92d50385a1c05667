"""validate.check_vectors of a list of rows (what JSON and most Python callers give):
the float32 array is built a block of rows at a time, so a large batch never holds a
float64 copy of itself (numpy reads Python floats as float64: the whole list at once
held twice the result's bytes beside it). Every refusal is as before, with its message,
wherever in a long list the bad row is; the result is float32 and equal to numpy's
float64 read cast to float32."""

import tracemalloc

import numpy as np
import pytest

from embkit import validate
from embkit.errors import EmbkitError

DIM = 48
ROWS = 3 * validate.ROWS_AT_ONCE + 17  # several blocks and a short last one


def rows(n: int = ROWS, seed: int = 0) -> list[list[float]]:
    return np.random.default_rng(seed).standard_normal((n, DIM)).tolist()


def check(vectors, n=None):
    return validate.check_vectors(vectors, n, DIM, "m")


@pytest.mark.parametrize("n", [1, 5, validate.ROWS_AT_ONCE, validate.ROWS_AT_ONCE + 1, ROWS])
def test_float32_and_equal_to_the_float64_read(n):
    vectors = rows(n)
    got = check(vectors, n)
    assert got.dtype == np.float32 and got.shape == (n, DIM) and got.flags.c_contiguous
    assert np.array_equal(got, np.asarray(vectors).astype(np.float32))  # bit for bit: the same rounding


def test_ints_tuples_and_numpy_rows_among_floats():
    vectors = rows()
    vectors[5] = [int(x * 100) for x in vectors[5]]
    vectors[validate.ROWS_AT_ONCE + 3] = tuple(vectors[validate.ROWS_AT_ONCE + 3])
    vectors[-1] = np.asarray(vectors[-1], dtype=np.float32)
    assert np.array_equal(check(tuple(vectors)), np.asarray(vectors).astype(np.float32))
    whole_ints = [[i % 7 - 3] * DIM for i in range(ROWS)]
    assert np.array_equal(check(whole_ints), np.asarray(whole_ints).astype(np.float32))


def test_a_block_of_large_ints_rounds_as_the_whole_list_read_rounds():
    """An all-int block among floats: the whole list reads as float64, so its ints round
    twice (to float64, then float32); cast straight to float32 they rounded once, to
    another value. All ints (or int64 beside uint64): as numpy reads the whole list."""
    x, y = 2**60 + 2**36 + 1, 2**63 + 2**39 + 1  # float64 then float32: 2**60; straight: 2**60 + 2**37
    at = validate.ROWS_AT_ONCE
    cases = [
        [[0.5] * DIM] * at + [[x] + [1] * (DIM - 1)],  # the int block last
        [[x] + [1] * (DIM - 1)] * at + [[0.5] * DIM],  # first
        [[-0.5] * DIM] * at + [[y] + [1] * (DIM - 1)],  # uint64
        [[-1] * DIM] * at + [[y] + [1] * (DIM - 1)],  # int64 and uint64 blocks: the whole list reads float64
        [[1] * DIM] * at + [[x] + [1] * (DIM - 1)],  # all int64: cast once, as before
    ]
    for vectors in cases:
        whole = np.asarray(vectors).astype(np.float32)
        got = check(vectors)
        assert got.tobytes() == whole.tobytes(), (int(got[at, 0]), int(whole[at, 0]))
    assert int(check(cases[0])[at, 0]) == 2**60


def test_a_large_list_never_holds_a_float64_copy():
    vectors = rows(8 * validate.ROWS_AT_ONCE)
    tracemalloc.start()  # numpy reports its arrays' memory to tracemalloc
    try:
        got = check(vectors)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the result, one block as float64 and its bool masks (1/8 of the rows, 11 bytes a number): ~1.35x;
    # the whole list read at once held its float64 copy beside the result: 3x
    assert peak < 1.5 * got.nbytes, (peak, got.nbytes)


NUMBERS = f"vectors: expected numbers in an (n, {DIM}) array"


def at(where: int, value) -> list:
    vectors = rows()
    vectors[where] = value
    return vectors


@pytest.mark.parametrize("where", [0, 7, validate.ROWS_AT_ONCE, ROWS - 1])
@pytest.mark.parametrize(("bad", "message"), [
    (lambda row: [True] + row[1:], NUMBERS),                  # a bool among numbers
    (lambda row: [1.0] + row[1:-1] + [False], NUMBERS),       # a bool that numpy reads as 0.0
    (lambda row: [True] * DIM, NUMBERS),                      # a row of bools
    (lambda row: ["0.5"] + row[1:], NUMBERS),                 # a number as a string
    (lambda row: [None] + row[1:], NUMBERS),
    (lambda row: [10 ** 400] + row[1:], NUMBERS),             # an int no float holds
    (lambda row: [1j] + row[1:], NUMBERS),
    (lambda row: row[:-1], NUMBERS),                          # a ragged row: one number short
    (lambda row: row + [0.5], NUMBERS),                       # one too many
    (lambda row: [row[:2]] + row[1:], NUMBERS),               # a list inside a row
    (lambda row: {"a": 1}, NUMBERS),
    (lambda row: "row", NUMBERS),
])
def test_each_refusal_wherever_the_bad_row_is(where, bad, message):
    vectors = rows()
    vectors[where] = bad(vectors[where])
    with pytest.raises(EmbkitError) as e:
        check(vectors)
    assert str(e.value) == message


@pytest.mark.parametrize("where", [0, validate.ROWS_AT_ONCE + 5, ROWS - 1])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 1e39])  # 1e39 is inf in float32
def test_nan_and_infinity_name_the_first_bad_row(where, value):
    vectors = rows()
    vectors[where][3] = value
    with np.errstate(over="ignore"), pytest.raises(EmbkitError) as e:
        check(vectors)
    assert str(e.value) == f"vectors[{where}]: contains NaN or infinity"


def test_wrong_width_count_and_shape():
    with pytest.raises(EmbkitError) as e:
        validate.check_vectors(rows(), None, DIM + 1, "m")
    assert str(e.value) == f"vectors: dimension {DIM} does not match the collection's {DIM + 1} (model m)"
    with pytest.raises(EmbkitError) as e:
        check(rows(), ROWS + 1)
    assert str(e.value) == f"vectors: {ROWS} vectors for {ROWS + 1} documents"
    with pytest.raises(EmbkitError) as e:
        check([[row] for row in rows()])
    assert str(e.value) == f"vectors: expected an (n, {DIM}) array, got shape ({ROWS}, 1, {DIM})"
    with pytest.raises(EmbkitError) as e:  # every row short by one: an even list of the wrong width
        check([row[:-1] for row in rows()])
    assert str(e.value) == f"vectors: dimension {DIM - 1} does not match the collection's {DIM} (model m)"
    with pytest.raises(EmbkitError) as e:  # blocks of different widths: ragged as a whole
        check(rows()[:validate.ROWS_AT_ONCE] + [row[:-1] for row in rows()[validate.ROWS_AT_ONCE:]])
    assert str(e.value) == NUMBERS


def test_a_one_row_list_and_arrays_as_before():
    vector = rows(1)[0]
    assert np.array_equal(check(vector), np.asarray([vector], dtype=np.float32))
    array = np.asarray(rows(), dtype=np.float64)
    assert np.array_equal(check(array), array.astype(np.float32))
    same = np.asarray(rows(), dtype=np.float32)
    assert check(same) is same  # a float32 array is not copied
    with pytest.raises(EmbkitError) as e:
        check(np.ones((3, DIM), dtype=bool))
    assert str(e.value) == NUMBERS
