"""`like=` with no space named is routed (collection/tower_route.py) before the request's
own checks run: a like that is not a string must still get the request's one-line error,
not an AttributeError from the routing, on either store."""

import numpy as np
import pytest

import embkit
from embkit.errors import EmbkitError


@pytest.mark.parametrize("like", [5, b"a", ["a"]])
def test_a_like_that_is_not_an_id_is_the_requests_error(backend, like):
    with embkit.create(backend("c"), model=None, dim=4) as col:
        col.add(ids=["a", "b", "c"], vectors=np.eye(4, dtype=np.float32)[:3])
        with pytest.raises(EmbkitError, match=r"^like: expected a document id \(a string\), got "):
            col.search(like=like, k=2)
        assert sorted(h.id for h in col.search(like="a", k=2)) == ["b", "c"]  # tied: both at 0
