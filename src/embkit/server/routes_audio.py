"""Audio documents over HTTP: uploads, and for result pages the file a hit came from (the
page's player seeks to the matched window itself) and a waveform picture of it. A file
is served only when it is the collection's own upload or lies under a folder the server
was given (`embkit serve --audio-root DIR`): metadata comes from clients, and must not
name any file to read."""

import functools

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response

from ..audio_media import UPLOADS
from .audio_upload import check_sound
from .auth import requires
from .byte_ranges import file_response
from .hosting import NotFound
from .params_unread import refuse_unread
from .schemas import AddAudio
from .state import hosted, limits
from .uploads import check_items, decode_base64, store_uploads

router = APIRouter(tags=["audio"], dependencies=[Depends(refuse_unread)])


def _found(request: Request, name: str, doc_id: str, what: str, unless: str):
    """The collection's `what` ("audio_file" or "waveform") of an audio document whose file
    lies under the server's roots; NotFound (saying `unless` why else) when there is none."""
    h = hosted(request, name)
    with h.lock.reading():
        found = getattr(h.collection, what)(doc_id, roots=request.app.state.audio_roots)
    if found is None:
        raise NotFound(f"id: no audio document with id {doc_id!r} whose file lies under the server's "
                       f"--audio-root folders{unless}")
    return found


@router.get("/collections/{name}/audio/{doc_id:path}")
def audio_file(name: str, doc_id: str, request: Request, _=Depends(requires("read"))) -> FileResponse:
    """The sound file of an audio document or of one of its windows (`ID#i`); byte
    ranges are served, so a player can seek."""
    path, media_type = _found(request, name, doc_id, "audio_file", "")
    return file_response(request, path, media_type, {"Cache-Control": "private, max-age=3600"})


@router.post("/collections/{name}/audio")
def add_audio(name: str, body: AddAudio, request: Request, _=Depends(requires("write"))) -> dict:
    """Upload sound files into the collection's audio space, in one transaction, as
    `add_audio` adds them (a long clip as windows). The files are kept in the collection's
    folder, where the player finds them. A file that is empty, too long or does not decode
    whole refuses the request (nothing kept); one `add_audio` still skips is reported so."""
    limits(request).batch(len(body.audio), "audio")
    check_items(body.audio, "audio")
    raws = [decode_base64(clip.data, f"audio[{i}].data") for i, clip in enumerate(body.audio)]
    suffixes = [check_sound(raw, f"audio[{i}].data") for i, raw in enumerate(raws)]
    h = hosted(request, name)
    add_files = functools.partial(h.collection.add_audio, upsert=body.upsert)
    return store_uploads(h, body.audio, raws, suffixes, h.collection.path / UPLOADS, add_files)


@router.get("/collections/{name}/waveforms/{doc_id:path}")
def waveform(name: str, doc_id: str, request: Request, _=Depends(requires("read"))) -> Response:
    """An SVG of the waveform of an audio document's file (drawn once, then cached)."""
    svg = _found(request, name, doc_id, "waveform", " (or it no longer decodes)")
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=3600"})
