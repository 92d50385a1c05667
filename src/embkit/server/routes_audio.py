"""Audio documents over HTTP, for result pages: the file a hit came from (the page's
player seeks to the matched window itself) and a waveform picture of it. A file is
served only when it lies under a folder the server was given (`embkit serve
--audio-root DIR`): metadata comes from clients, and must not name any file to read."""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from .auth import requires
from .hosting import NotFound
from .state import hosted

router = APIRouter(tags=["audio"])


@router.get("/collections/{name}/audio/{doc_id:path}")
def audio_file(name: str, doc_id: str, request: Request, _=Depends(requires("read"))) -> FileResponse:
    """The sound file of an audio document or of one of its windows (`ID#i`); byte
    ranges are served, so a player can seek."""
    h = hosted(request, name)
    with h.lock.reading():
        found = h.collection.audio_file(doc_id, roots=request.app.state.audio_roots)
    if found is None:
        raise NotFound(f"id: no audio document with id {doc_id!r} whose file lies under the server's "
                       "--audio-root folders")
    path, media_type = found
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})


@router.get("/collections/{name}/waveforms/{doc_id:path}")
def waveform(name: str, doc_id: str, request: Request, _=Depends(requires("read"))) -> FileResponse:
    """An SVG of the waveform of an audio document's file (drawn once, then cached)."""
    h = hosted(request, name)
    with h.lock.reading():
        path = h.collection.waveform(doc_id, roots=request.app.state.audio_roots)
    if path is None:
        raise NotFound(f"id: no audio document with id {doc_id!r} whose file lies under the server's "
                       "--audio-root folders (or it no longer decodes)")
    return FileResponse(path, media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=3600"})
