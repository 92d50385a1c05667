"""Errors as JSON: `{"error": {"code", "message", "request_id"}}` with a stable code;
on the OpenAI-compatible /v1 paths, OpenAI's shape and status codes (openai_shapes.py)."""

import logging
import sqlite3

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import EmbkitError
from ..store.sqlite_busy import TIMEOUT_VARIABLE, is_busy
from ..validate import printable
from .api_errors import CODES, ApiError, LimitExceeded  # noqa: F401 - routes import them from here
from .hosting import Conflict, NotFound
from .openai_shapes import is_openai_path, openai_error

log = logging.getLogger("embkit.server")
RETRY_AFTER = 1  # seconds: a write waits its busy timeout first, so the lock is rarely held much longer
BUSY = ("database is locked: another writer (an import, a compaction, another process) held the collection "
        f"past the busy timeout ({TIMEOUT_VARIABLE}); the request's change was rolled back, try again")


def error_response(request: Request, status: int, code: str, message: str, headers: dict | None = None,
                   **extra) -> JSONResponse:
    if is_openai_path(request.url.path):  # /v1/*: OpenAI's shape and status codes, for its clients
        status, body = openai_error(status, code, message)
        return JSONResponse(body, status_code=status, headers=headers)
    request_id = getattr(request.state, "request_id", None)
    # a message may quote the client's input (a field name from pydantic's loc): a lone
    # surrogate in it would fail the response itself and reset the connection
    body = {"error": {"code": code, "message": printable(message), "request_id": request_id, **extra}}
    return JSONResponse(body, status_code=status, headers=headers)


def install(app) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, e: ApiError):
        extra = {"limit": e.limit} if isinstance(e, LimitExceeded) else {}
        return error_response(request, e.status, e.code, e.message, e.headers, **extra)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, e: NotFound):
        return error_response(request, 404, "not_found", str(e))

    @app.exception_handler(Conflict)
    async def conflict(request: Request, e: Conflict):
        return error_response(request, 409, "conflict", str(e))

    @app.exception_handler(EmbkitError)
    async def bad_input(request: Request, e: EmbkitError):
        status, code = (409, "conflict") if "already exist" in str(e) else (422, "invalid_request")
        return error_response(request, status, code, str(e))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError):
        first = e.errors()[0] if e.errors() else {"loc": (), "msg": "invalid request"}
        field = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        message = f"{field or 'body'}: {first.get('msg')}"
        if first.get("type") == "json_invalid":  # its loc is a character offset: it read "17: JSON decode error"
            reason = (first.get("ctx") or {}).get("error") or "JSON decode error"
            message = f"body: not valid JSON ({reason} at character {field or 0})"
        return error_response(request, 422, "invalid_request", message,
                              details=[{"field": printable(".".join(map(str, err.get("loc", ())))),
                                        "message": printable(str(err.get("msg")))} for err in e.errors()[:20]])

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException):
        return error_response(request, e.status_code, CODES.get(e.status_code, "error"), str(e.detail))

    @app.exception_handler(sqlite3.OperationalError)
    async def busy(request: Request, e: sqlite3.OperationalError):
        """Another writer kept the lock: the client's request is sound, so a 503 it can
        retry (the transaction rolled back), not a 500."""
        if not is_busy(e):
            return await internal(request, e)
        log.warning("request %s: %s", getattr(request.state, "request_id", "-"), e)
        return error_response(request, 503, "busy", BUSY, {"Retry-After": str(RETRY_AFTER)})

    @app.exception_handler(Exception)
    async def internal(request: Request, e: Exception):
        log.exception("request %s failed", getattr(request.state, "request_id", "-"))
        return error_response(request, 500, "internal", f"internal error: {type(e).__name__}")
