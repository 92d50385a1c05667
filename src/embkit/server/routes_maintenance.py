"""Keeping a served collection sound: `GET /collections/{name}/check`, the same report
as `embkit check --json`; `POST /collections/{name}/compact`, as `embkit compact --json`."""

from fastapi import APIRouter, Depends, Request

from ..errors import EmbkitError
from .auth import requires
from .errors import ApiError
from .params_unread import refuse_unread
from .state import hosted

router = APIRouter(tags=["maintenance"], dependencies=[Depends(refuse_unread)])


@router.get("/collections/{name}/check")
def check_collection(name: str, request: Request, repair: bool = False, _=Depends(requires("read"))) -> dict:
    """Verify the collection (`{"ok", "checks": [{"name", "ok", "detail"}...], "repaired"}`).
    `?repair=true` rebuilds the derived files that fail, and needs the write scope."""
    if repair:  # rebuilding writes files: more than a read key may ask for
        request.app.state.auth.check(request, "write", name)
    h = hosted(request, name)
    with (h.lock.writing() if repair else h.lock.reading()):
        return h.collection.check(repair=repair).to_dict()


@router.post("/collections/{name}/compact")
def compact_collection(name: str, request: Request, full: bool = False, _=Depends(requires("write"))) -> dict:
    """Give back the space deleted documents left (`{"backend", "before", "after",
    "indexes", "kept", "removed"}`: bytes on disk before and after, spaces whose index was
    rebuilt, the others with why they were kept, cache files removed); `?full=true`
    rebuilds every index holding deleted entries. Searches and writes wait meanwhile.
    409 when the collection cannot be compacted now (read-only, or open in another process)."""
    h = hosted(request, name)
    with h.lock.writing():
        try:
            return h.collection.compact(full=full)
        except EmbkitError as e:  # nothing the request said was wrong: the collection's state is
            raise ApiError(409, str(e)) from None
