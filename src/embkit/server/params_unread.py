"""Input a route does not read is refused, as an unknown body field is (schemas.py): a
misspelt query parameter (`?colour_by=`, `?limt=5`) or a body sent to a route that takes
none (`POST .../compact` with `{"ful": true}`) would otherwise do nothing, silently.
Every router takes `refuse_unread` as a dependency."""

import json

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from .errors import ApiError

MAX_NAME = 100  # a name quoted from the request: enough to recognise it


def query_names(route: APIRoute) -> tuple[str, ...]:
    """The query parameters `route` reads (its own and its dependencies'), by the name
    sent. Worked out only for a request that sends some: a walk over a few dependants."""
    return tuple(dict.fromkeys(_query_params(route.dependant)))


def _query_params(dependant: Dependant):
    """Walked here: FastAPI's own flattening helper is private and changed between versions."""
    yield from (param.alias for param in dependant.query_params)
    for sub in dependant.dependencies:
        yield from _query_params(sub)


async def refuse_unread(request: Request) -> None:
    """Async: it awaits the body of a route that reads none (already buffered by the
    middleware), and a set difference needs no trip to the thread pool."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    takes = query_names(route) if request.query_params else ()
    unknown = [name for name in request.query_params if name not in takes]
    if unknown:
        raise ApiError(422, f"{_quoted(unknown[0])}: unknown query parameter; {request.method} "
                            f"{route.path_format} takes {', '.join(takes) if takes else 'none'}")
    if route.body_field is None:
        field = _sent_field(await request.body())
        if field is not None:
            takes = query_names(route)
            options = f" (its options are query parameters: {', '.join(takes)})" if takes else ""
            raise ApiError(422, f"{_quoted(field)}: {request.method} {route.path_format} takes no body{options}")


def _sent_field(body: bytes) -> str | None:
    """What a body sent to a route that takes none names: None for no body or `{}`, the
    first field of an object, else "body"."""
    if not body.strip():
        return None
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return "body"
    if value == {}:
        return None
    return next(iter(value)) if isinstance(value, dict) else "body"


def _quoted(name: str) -> str:
    return name if len(name) <= MAX_NAME else name[:MAX_NAME] + "..."
