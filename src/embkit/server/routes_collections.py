"""Collections: list, create, describe, delete; and the metadata fields for filters."""

from fastapi import APIRouter, Depends, Request

from .. import __version__
from .auth import requires
from .keys import Key
from .params_unread import refuse_unread
from .schemas import CreateCollection
from .state import hosted, served

router = APIRouter(dependencies=[Depends(refuse_unread)])


@router.get("/health", tags=["server"])
def health() -> dict:
    """Liveness; the one route that needs no key."""
    return {"status": "ok", "version": __version__}


@router.get("/collections", tags=["collections"])
def list_collections(request: Request, key: Key | None = Depends(requires("read"))) -> dict:
    names = served(request).names()
    return {"collections": request.app.state.auth.visible(key, names)}


@router.post("/collections", status_code=201, tags=["collections"])
def create_collection(body: CreateCollection, request: Request, key: Key | None = Depends(requires("admin"))) -> dict:
    if key is not None and not key.allows("admin", body.name):
        from .errors import ApiError

        raise ApiError(403, f"collection: this key does not cover collection {body.name!r}")
    h = served(request).create(body.name, body.model, body.metric, body.dim)
    with h.lock.reading():
        return {"name": body.name, **h.collection.info()}


@router.get("/collections/{name}", tags=["collections"])
def collection_info(name: str, request: Request, _=Depends(requires("read"))) -> dict:
    h = hosted(request, name)
    with h.lock.reading():
        return {"name": name, **h.collection.info()}


@router.delete("/collections/{name}", tags=["collections"])
def delete_collection(name: str, request: Request, _=Depends(requires("admin"))) -> dict:
    served(request).delete(name)
    return {"deleted": name}


@router.get("/collections/{name}/fields", tags=["collections"])
def metadata_fields(name: str, request: Request, _=Depends(requires("read"))) -> dict:
    """Metadata fields with their types and most common values (for filter menus)."""
    h = hosted(request, name)
    with h.lock.reading():
        return {"fields": h.collection.fields()}
