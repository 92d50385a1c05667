"""The fast path for the request a server sees most: a small dense search by vector
(or `like`) on an index that is ready. It answers on the event loop, without FastAPI's
routing, dependency solving and two trips to the thread pool, which at 8+ clients cost
more than the search itself (GIL hand-offs between the loop and the workers).

It answers only when the outcome is certain to be a 200 equal to the route's: valid
body, valid key, limits met, the collection already open, its index ready (no load,
build or catch-up) and no writer holding or awaiting its lock. Anything else (errors
included, and rows another handle deleted since the index answered: asking again would
catch the index up here) goes on to the ordinary route, which answers it in full. The
index is taken without waiting (index/no_wait.py): a catch-up another thread starts after
the ready check (another process wrote) holds the index's lock, and waiting for it here
stalled the event loop; the request goes to the route instead."""

import time

from pydantic import ValidationError
from starlette.requests import Request

from ..index.no_wait import NO_WAIT
from ..search.request import SearchRequest
from ..search.vanished_rows import ASK_AGAIN
from .errors import ApiError
from .routes_search import encode_hits  # the route's own encoding: the same bytes
from .schemas import Search

MAX_INLINE_K = 100  # above this, building the hits is no longer cheap enough for the loop
PREFIX, SUFFIX = "/collections/", "/search"


class FastSearch:
    def __init__(self, app):
        self.app = app  # the FastAPI application: its state holds the collections, keys and limits

    async def __call__(self, scope, receive, send):
        name = _collection(scope)
        if name is None:
            return await self.app(scope, receive, send)
        body = await _read_body(receive)
        answer = self._answer(scope, name, body)
        if answer is None:
            return await self.app(scope, _replay(body, receive), send)
        scope.setdefault("state", {})["fast"] = True  # marked in the request's log line
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(answer)).encode()),
                                (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": answer})

    def _answer(self, scope, name: str, body: bytes) -> bytes | None:
        """The response body, or None to leave the request to the route."""
        state = self.app.state
        try:
            search = Search.model_validate_json(body)
        except ValidationError:
            return None
        if not _cheap(search, state.limits):
            return None
        try:
            state.auth.check(Request(scope), "read", name)
        except ApiError:
            return None
        hosted = state.collections.peek(name)
        if hosted is None or not hosted.lock.acquire_read(blocking=False):
            return None
        no_catch_up = ASK_AGAIN.set(False)  # rows gone since the index answered: the route asks again
        no_wait = NO_WAIT.set(True)  # the index's lock held (a catch-up): IndexBusy, the route waits
        try:
            if not hosted.collection.index_ready():
                return None
            if search.like is not None and len(hosted.collection.spaces) > 1:
                return None  # `like` may go to the space holding its vector, whose index is not checked ready
            started = time.perf_counter()
            found = hosted.collection.find(SearchRequest(vector=search.vector, like=search.like, k=search.k,
                                                         documents=search.documents, ef=search.ef,
                                                         nprobe=search.nprobe, rescore=search.rescore,
                                                         model=search.model))
            return encode_hits(found.hits, started)
        except Exception:  # the route raises it again and answers it as an error (or waits: RowsVanished, IndexBusy)
            return None
        finally:
            NO_WAIT.reset(no_wait)
            ASK_AGAIN.reset(no_catch_up)
            hosted.lock.release_read()


def _collection(scope) -> str | None:
    """The collection name if this is `POST /collections/{name}/search` with a JSON body."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    if scope.get("query_string"):  # the route takes none: it refuses them (params_unread.py)
        return None
    path = scope["path"]
    if not (path.startswith(PREFIX) and path.endswith(SUFFIX)):
        return None
    name = path[len(PREFIX):-len(SUFFIX)]
    if not name or "/" in name:
        return None
    for key, value in scope["headers"]:
        if key == b"content-type" and value.split(b";")[0].strip().lower() != b"application/json":
            return None
    return name


def _cheap(search: Search, limits) -> bool:
    return (search.query is None and search.rerank is None and search.mode == "dense" and search.mmr is None
            and search.where is None and search.dims is None and search.image is None and search.audio is None
            and search.space is None
            and search.by_document is None  # the old name: the route answers it with its deprecation warning
            and search.k <= min(MAX_INLINE_K, limits.max_k))


async def _read_body(receive) -> bytes:
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def _replay(body: bytes, receive):
    sent = [False]

    async def replayed():
        if not sent[0]:
            sent[0] = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
