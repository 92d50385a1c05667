"""The FastAPI application: routes over the Collection API, auth, limits, errors as
JSON, request ids, and the web page with its assets (no CDN)."""

import importlib.util
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from .. import __version__
from . import (
    errors,
    routes_analysis,
    routes_audio,
    routes_collections,
    routes_document_view,
    routes_documents,
    routes_files,
    routes_images,
    routes_maintenance,
    routes_openai,
    routes_search,
)
from .auth import Auth
from .fast_search import FastSearch
from .hosting import Collections
from .keys import KeyStore
from .limits import Limits
from .middleware import RequestMiddleware
from .upload_recovery import recover_uploads

STATIC = Path(__file__).parent / "static"


def create_app(collections: Collections, keys: KeyStore | None, limits: Limits | None = None,
               reranker: str | Path | None = None, image_roots: list[str | Path] = (),
               source_roots: list[str | Path] = (), audio_roots: list[str | Path] = ()) -> RequestMiddleware:
    """The ASGI application to serve (the FastAPI app is its `.app.app`). `keys=None`
    turns auth off (the CLI allows that only on a loopback address). Thumbnails are made
    only from a collection's own uploads and from files under `image_roots`; markdown
    documents are rendered from their files only under `source_roots`; audio files are
    played and drawn only from under `audio_roots`.

    Request ids, logs and the body limit wrap everything; inside them the fast search
    path sits in front of FastAPI, which it passes all else to, so that the most common
    request skips FastAPI's and Starlette's layers (see fast_search.py)."""
    limits = limits or Limits()
    @asynccontextmanager
    async def lifespan(_app):
        recover_uploads(collections)  # what uploads of a killed server left (upload_recovery.py)
        yield
        collections.close()  # saves indexes that moved on

    app = FastAPI(title="embkit", version=__version__, lifespan=lifespan,
                  description="Embed, store and search text by meaning. Every route but /health needs "
                              "`Authorization: Bearer KEY` (see `embkit keys create`).")
    app.state.collections, app.state.auth, app.state.limits = collections, Auth(keys), limits
    app.state.reranker = Path(reranker) if reranker else None
    app.state.image_roots = [Path(root).resolve() for root in image_roots]
    app.state.source_roots = [Path(root).resolve() for root in source_roots]
    app.state.audio_roots = [Path(root).resolve() for root in audio_roots]
    errors.install(app)
    for module in (routes_collections, routes_documents, routes_document_view, routes_files, routes_search,
                   routes_analysis, routes_images, routes_audio, routes_maintenance, routes_openai):
        app.include_router(module.router)
    _web_page(app)
    return RequestMiddleware(FastSearch(app), max_body_bytes=limits.max_body_bytes)


def _web_page(app: FastAPI) -> None:
    """The page and its assets hold no data, so they load without a key; the page asks
    for one and sends it with every API call."""

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(_plotly_bundle(), media_type="application/javascript")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")


def _plotly_bundle() -> Path:
    """plotly.js as shipped inside the plotly Python package (served locally, no CDN)."""
    spec = importlib.util.find_spec("plotly")
    return Path(spec.origin).parent / "package_data" / "plotly.min.js"
