"""Comparing hit lists as JSON, the way every door's parity test does."""

import pytest


def assert_same_hits(expected: list[dict], got: list[dict]) -> None:
    """Equal hit lists: ids, documents and every field equal, scores within 1e-6."""
    assert [(h["id"], h["document"]) for h in got] == [(h["id"], h["document"]) for h in expected]
    for want, have in zip(expected, got):
        assert set(have) == set(want)
        for key, value in want.items():
            if isinstance(value, float):
                assert have[key] == pytest.approx(value, abs=1e-6), key
            else:
                assert have[key] == value, key
