"""Every request gets an id (the client's `X-Request-ID` if it sent a sane one), a log
line with its status and duration, and a body-size limit enforced while it streams in
(a 413 before the route runs, so nothing of it is written). Plain ASGI: no extra
task per request."""

import json
import logging
import re
import time
import uuid

from .openai_shapes import is_openai_path, openai_error

log = logging.getLogger("embkit.server")
SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class _TooLarge(Exception):
    pass


class RequestMiddleware:
    def __init__(self, app, max_body_bytes: int):
        self.app, self.max_body_bytes = app, max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if SANE_ID.match(given) else uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        started, status = time.perf_counter(), [500]

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            receive = await self._buffered(receive, headers)
        except _TooLarge:
            await _too_large(send_with_id, request_id, self.max_body_bytes, scope["path"])
            receive = None
        try:
            if receive is not None:
                await self.app(scope, receive, send_with_id)
        finally:
            log.info("%s %s %s %d %.1fms%s", request_id, scope["method"], scope["path"], status[0],
                     (time.perf_counter() - started) * 1000, " fast" if scope["state"].get("fast") else "")

    async def _buffered(self, receive, headers):
        """The whole body read up front (refused past the limit), replayed to the app."""
        try:
            if int(headers.get(b"content-length", b"0") or 0) > self.max_body_bytes:
                raise _TooLarge
        except ValueError:
            pass
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), [False]

        async def replay():
            if not replayed[0]:
                replayed[0] = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay


async def _too_large(send, request_id: str, limit: int, path: str) -> None:
    message = f"body: the request body exceeds the maximum of {limit} bytes (limit max_body_bytes)"
    error = {"code": "limit_exceeded", "limit": "max_body_bytes", "request_id": request_id, "message": message}
    if is_openai_path(path):  # OpenAI's clients read their own error shape
        error = openai_error(413, "limit_exceeded", message)[1]["error"]
    body = json.dumps({"error": error}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
