"""The Range checks the file routes share (sound files, thumbnails), run against a live
server (a plain module, like live_server.py)."""


def bad_ranges(http, url: str, content: bytes) -> None:
    """A malformed Range header is a one-line JSON 400 and one past the end a 416 with
    `Content-Range: bytes */SIZE` (Starlette's plain text before); a good one still a 206,
    and one with a stale If-Range the whole file (the range is not read)."""
    size = len(content)
    for header in ("bytes=abc", "items=0-5", "bytes=9-3", "bytes=-"):
        answer = http.get(url, headers={"Range": header})
        error = answer.json()["error"]
        assert (answer.status_code, error["code"]) == (400, "invalid_range"), answer.text
        assert error["message"].startswith(f"Range: {header!r} is not a byte range this file can serve (")
        assert "\n" not in error["message"] and error["request_id"]
    answer = http.get(url, headers={"Range": f"bytes={size}-"})
    assert (answer.status_code, answer.headers["content-range"]) == (416, f"bytes */{size}")
    assert answer.json()["error"]["code"] == "range_not_satisfiable"
    assert answer.json()["error"]["message"] == f"Range: 'bytes={size}-' starts past the end of the file ({size} bytes)"
    assert http.get(url, headers={"Range": "bytes=2-5"}).content == content[2:6]
    stale = http.get(url, headers={"Range": "bytes=abc", "If-Range": '"not-its-etag"'})
    assert stale.status_code == 200 and stale.content == content

