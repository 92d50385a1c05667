"""Input a route does not read is refused, as an unknown body field is (schemas.py): a
misspelt query parameter (`?colour_by=`, `?limt=5`), one given twice (`?full=true&full=false`:
only the last was read) or a body sent to a route that takes none (`POST .../compact`
with `{"ful": true}`) would otherwise do nothing, silently. Every router takes
`refuse_unread` as a dependency; its refusals come after the route's key check."""

import json
import re
import unicodedata
from collections import Counter
from typing import get_args, get_origin

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from .auth import requires
from .errors import ApiError

MAX_NAME = 100  # a name quoted from the request: enough to recognise it
_PLAIN = re.compile(r"[\w.\-\[\]]+")  # names shown as sent: letters (any script), digits, _ . - [ ]
# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt; unicodedata lacks it) and
# the Braille blank: drawn as nothing, though some are letters (Hangul fillers, Lo) that \w takes
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff]"
)
_AUTH = requires("read").__code__  # every route's key check is a closure of this code


def query_names(route: APIRoute) -> tuple[str, ...]:
    """The query parameters `route` reads (its own and its dependencies'), by the name
    sent. Worked out only for a request that sends some: a walk over a few dependants."""
    return tuple(dict.fromkeys(param.alias for param in _query_params(route.dependant)))


def _query_params(dependant: Dependant):
    """Walked here: FastAPI's own flattening helper is private and changed between versions."""
    yield from dependant.query_params
    for sub in dependant.dependencies:
        yield from _query_params(sub)


def _lists(route: APIRoute) -> set[str]:
    """The query parameters of `route` that take a list (`?tag=a&tag=b`)."""
    return {param.alias for param in _query_params(route.dependant) if _is_list(param.field_info.annotation)}


def _is_list(annotation) -> bool:
    """list[str], and list[str] | None."""
    return get_origin(annotation) in (list, tuple, set, frozenset) or any(_is_list(a) for a in get_args(annotation))


async def refuse_unread(request: Request) -> None:
    """A 422 for the first thing the request sends that its route does not read. Async:
    it awaits the body of a route that reads none (already buffered by the middleware),
    and a set difference needs no trip to the thread pool."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    takes = query_names(route) if request.query_params else ()
    unknown = [name for name in request.query_params if name not in takes]
    if unknown:
        await _key_first(request, route)
        got = json.dumps(request.query_params[unknown[0]])  # the line MCP's door gives an unknown argument
        got = got if len(got) <= MAX_NAME else got[:MAX_NAME] + "..."
        raise ApiError(422, f"{_quoted(unknown[0])}: unknown query parameter of {request.method} {route.path_format} "
                            f"(allowed: {', '.join(takes) if takes else 'none'}), got {got}")
    counts = Counter(name for name, _ in request.query_params.multi_items())
    repeated = next((name for name, n in counts.items() if n > 1), None)
    if repeated is not None and repeated not in _lists(route):  # one value: all but the last were ignored
        await _key_first(request, route)
        raise ApiError(422, f"{_quoted(repeated)}: given {counts[repeated]} times; give it once")
    if route.body_field is None:
        field = _sent_field(await request.body())
        if field is not None:
            await _key_first(request, route)
            takes = query_names(route)
            options = f" (its options are query parameters: {', '.join(takes)})" if takes else ""
            raise ApiError(422, f"{_quoted(field)}: {request.method} {route.path_format} takes no body{options}")


async def _key_first(request: Request, route: APIRoute) -> None:
    """The route's key check, run before a refusal here as it runs before FastAPI's own
    validation: a caller without a valid key gets its 401 (or 403), not the route's options."""
    for dependency in route.dependant.dependencies:
        if getattr(dependency.call, "__code__", None) is _AUTH:
            await dependency.call(request)


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
    """A name from the request as a message's line shows it: a plain one as sent; any
    other (empty, with spaces, quotes, colons, unprintable characters) quoted as repr
    quotes it, escapes and all, so the line shows where it starts and ends (`?=1` gave
    a line starting with its colon). Cut after MAX_NAME characters, escapes counted."""
    cut = name[:MAX_NAME]
    # _PLAIN's characters are letters, digits and _ . - [ ] (no control, separator or mark:
    # checked over every code point); of those, only _INVISIBLE's draw nothing (U+3164 is a letter)
    if _PLAIN.fullmatch(cut) and not _INVISIBLE.search(cut):
        return cut if len(cut) == len(name) else cut + "..."
    shown = _repr(cut)
    while len(shown) > MAX_NAME + 2:  # escapes took room (one is up to 10 characters): at most MAX_NAME turns
        cut = cut[:-1]
        shown = _repr(cut)
    return shown if len(cut) == len(name) else shown + "..."


def _repr(name: str) -> str:
    """repr(name), with the characters it leaves as they are but that show as nothing
    (invisible ones, a combining mark first) escaped as well."""
    shown = repr(name)
    body = _INVISIBLE.sub(lambda m: _escape(m.group()), shown[1:-1])
    if body and unicodedata.category(body[0])[0] == "M":
        body = _escape(body[0]) + body[1:]
    return shown[0] + body + shown[-1]


def _escape(c: str) -> str:
    return f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}"
