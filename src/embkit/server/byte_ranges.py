"""The file routes' responses (a sound file, a thumbnail) with their Range header checked
first: a malformed byte range is a 400 and one that selects no byte of the file a 416, in
the server's JSON error shape (Starlette's FileResponse answers both in plain text); a
range unit other than bytes is ignored (the whole file, 200).

The check is Starlette's own parser (and its If-Range test), so a range is refused here
exactly when FileResponse would refuse it; a Starlette that serves no ranges has no such
parser, and ignores the header."""

import os
from pathlib import Path

from fastapi import Request
from fastapi.responses import FileResponse

from ..validate import printable
from .api_errors import ApiError
from .hosting import NotFound

SHOWN = 80  # characters of a bad header quoted in the error


class _FileResponse(FileResponse):
    """FileResponse serving the whole file for a range unit other than bytes (`items=0-5`):
    RFC 9110 14.2 has a server ignore a unit it does not know (Starlette answered 400)."""

    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        unit, is_range, _ = http_range.partition("=")
        if is_range and unit.strip().lower() != "bytes":
            return []  # no range: the whole file
        return super()._parse_range_header(http_range, file_size)


def file_response(request: Request, path: Path, media_type: str, headers: dict) -> FileResponse:
    """FileResponse for `path`, after refusing a Range header it would refuse (ApiError)."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:  # gone since the route found it
        raise NotFound(f"file: {path.name} is gone") from None
    except OSError as e:  # unreadable (permissions, a symlink loop): a JSON 404, not a 500
        raise NotFound(f"file: {path.name} cannot be read ({e.strerror or type(e).__name__})") from None
    response = _FileResponse(path, media_type=media_type, headers=headers, stat_result=stat)
    check_range(request, response, stat.st_size)
    return response


def check_range(request: Request, response: FileResponse, size: int) -> None:
    """ApiError 400 (malformed) or 416 (unsatisfiable, with `Content-Range: bytes */SIZE`)
    for the request's Range header, when `response` would serve it as a range."""
    header = request.headers.get("range")
    if header is None or not hasattr(FileResponse, "_parse_range_header") or request.method not in ("GET", "HEAD"):
        return
    parse = response._parse_range_header
    if_range = request.headers.get("if-range")
    if if_range is not None and not response._should_use_range(if_range):
        return  # the whole file is sent: the range is not read
    from starlette.responses import MalformedRangeHeader, RangeNotSatisfiable

    shown = printable(header[:SHOWN]) + ("…" if len(header) > SHOWN else "")
    try:
        parse(header, size)
    except MalformedRangeHeader as e:
        raise ApiError(400, f"Range: {shown!r} is not a byte range this file can serve ({e.content.rstrip('.')}); "
                            f"expected bytes=START-END, START <= END", "invalid_range") from None
    except RangeNotSatisfiable:
        raise ApiError(416, f"Range: {shown!r} selects no byte of the file ({size} bytes): a range starts "
                            f"at 0 to {size - 1}, a suffix -N asks for N >= 1 bytes",
                       "range_not_satisfiable", {"Content-Range": f"bytes */{size}"}) from None
