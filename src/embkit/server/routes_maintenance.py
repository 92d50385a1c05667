"""Keeping a served collection sound: `GET /collections/{name}/check`, the same report
as `embkit check --json`."""

from fastapi import APIRouter, Depends, Request

from .auth import requires
from .state import hosted

router = APIRouter(tags=["maintenance"])


@router.get("/collections/{name}/check")
def check_collection(name: str, request: Request, repair: bool = False, _=Depends(requires("read"))) -> dict:
    """Verify the collection (`{"ok", "checks": [{"name", "ok", "detail"}...], "repaired"}`).
    `?repair=true` rebuilds the derived files that fail, and needs the write scope."""
    if repair:  # rebuilding writes files: more than a read key may ask for
        request.app.state.auth.check(request, "write", name)
    h = hosted(request, name)
    with (h.lock.writing() if repair else h.lock.reading()):
        return h.collection.check(repair=repair).to_dict()
