"""A file the sound and thumbnail routes found but cannot stat (no permission, a symlink
loop) is a one-line JSON 404: only a vanished file was caught, anything else was a 500.
(The Range checks themselves run against live servers: tests/range_checks.py.)"""

import pytest
from starlette.requests import Request

from embkit.server.byte_ranges import file_response
from embkit.server.hosting import NotFound


def test_a_file_that_cannot_be_read_is_a_404(tmp_path):
    loop = tmp_path / "loop.wav"
    loop.symlink_to(loop)  # os.stat raises OSError (ELOOP), as PermissionError would for another user
    request = Request({"type": "http", "method": "GET", "headers": [], "query_string": b""})
    try:
        file_response(request, loop, "audio/wav", {})
    except NotFound as e:
        assert str(e) == "file: loop.wav cannot be read (Too many levels of symbolic links)"  # NotFound: a 404
    else:
        raise AssertionError("served a file it cannot read")
    with pytest.raises(NotFound) as gone:  # without it, a file served or a 500 passed unnoticed
        file_response(request, tmp_path / "gone.wav", "audio/wav", {})
    assert str(gone.value) == "file: gone.wav is gone"
