"""The Range checks the file routes share (sound files, thumbnails), run against a live
server (a plain module, like live_server.py)."""


def bad_ranges(http, url: str, content: bytes) -> None:
    """A malformed Range header is a one-line JSON 400 and one selecting no byte a 416 with
    `Content-Range: bytes */SIZE` (Starlette's plain text before); a good one still a 206,
    one in a unit other than bytes or with a stale If-Range the whole file (not read)."""
    size = len(content)
    for header in ("bytes=abc", "bytes=9-3", "bytes=-"):
        answer = http.get(url, headers={"Range": header})
        error = answer.json()["error"]
        assert (answer.status_code, error["code"]) == (400, "invalid_range"), answer.text
        assert error["message"].startswith(f"Range: {header!r} is not a byte range this file can serve (")
        assert "\n" not in error["message"] and error["request_id"]
    assert error["message"].endswith("expected bytes=START-END, START <= END")  # bytes=5-5 is one byte
    for header in (f"bytes={size}-", "bytes=-0"):  # past the end; a suffix of no bytes
        answer = http.get(url, headers={"Range": header})
        assert (answer.status_code, answer.headers["content-range"]) == (416, f"bytes */{size}")
        assert answer.json()["error"]["code"] == "range_not_satisfiable"
        assert answer.json()["error"]["message"] == (
            f"Range: {header!r} selects no byte of the file ({size} bytes): "
            f"a range starts at 0 to {size - 1}, a suffix -N asks for N >= 1 bytes")
    assert http.get(url, headers={"Range": "bytes=2-5"}).content == content[2:6]
    one = http.get(url, headers={"Range": "bytes=5-5"})
    assert (one.status_code, one.content) == (206, content[5:6])
    other_unit = http.get(url, headers={"Range": "items=0-5"})  # a unit the server does not know: ignored
    assert (other_unit.status_code, other_unit.content) == (200, content)
    stale = http.get(url, headers={"Range": "bytes=abc", "If-Range": '"not-its-etag"'})
    assert stale.status_code == 200 and stale.content == content

