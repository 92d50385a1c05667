"""A folder's files over HTTP, read as `embkit add DIR FOLDER` reads them (markdown, html,
pdf, csv, ...: the same ids, chunks and metadata). Checked, read, chunked and embedded
before the write lock is taken, then written in one transaction."""

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from .. import validate
from ..errors import EmbkitError
from ..ingest.skips import holds, summary
from ..ingest.sync import sync_folder
from ..ingest.uploads import Upload, check_upload_path, prepare_uploads
from .auth import requires
from .errors import ApiError
from .params_unread import refuse_unread
from .routes_search import with_warnings
from .schemas import Strict
from .state import hosted, limits
from .strict_values import Checked, Flag
from .uploads import decode_base64

router = APIRouter(tags=["documents"], dependencies=[Depends(refuse_unread)])


class FileIn(Strict):
    path: str = Field(description="The file's path inside the folder, with '/' (guide/setup.md).")
    data: str = Field(description="The file's bytes, base64-encoded.")


class AddFiles(Strict):
    folder: str = Field(description="The folder's name: ids and metadata `source` are FOLDER/PATH, as "
                                    "`embkit add DIR FOLDER` names them.")
    files: list[FileIn]
    include: list[str] | None = None
    exclude: list[str] | None = None
    upsert: Flag = False  # JSON values as the Python door takes them: "yes" is not true (strict_values.py)
    chunk: Flag = True
    chunk_tokens: Annotated[int, Checked] = 256  # the chunker checks these, as in every door
    overlap: Annotated[int, Checked] = 32
    text_column: str = "text"
    id_column: str = "id"


@router.post("/collections/{name}/files", status_code=201)
def add_files(name: str, body: AddFiles, request: Request, _=Depends(requires("write"))) -> dict[str, Any]:
    """Add a folder's files as `embkit add` does. Files the collection cannot take
    (images, unknown formats, unreadable files) are skipped and listed, with the one
    summary line in `warnings`; the others land."""
    lim = limits(request)
    lim.batch(len(body.files), "files")
    if not body.folder or "\x00" in body.folder or len(body.folder) > validate.MAX_ID_CHARS:
        raise EmbkitError(f"folder: expected a name of 1 to {validate.MAX_ID_CHARS} characters")
    validate.check_unicode(body.folder, "folder")
    uploads = [Upload(check_upload_path(f.path, f"files[{i}].path"), decode_base64(f.data, f"files[{i}].data"))
               for i, f in enumerate(body.files)]
    h = hosted(request, name)
    if "text" not in h.collection.spaces:
        raise EmbkitError(f"files: the collection {holds(h.collection.spaces)}; this route reads text files")
    prepared, skipped = prepare_uploads(
        h.collection.writing_model, body.folder, uploads, include=body.include, exclude=body.exclude,
        text_column=body.text_column, id_column=body.id_column, chunk=body.chunk, chunk_tokens=body.chunk_tokens,
        overlap=body.overlap, max_document_bytes=lim.max_document_bytes)
    vectors = h.collection.embed_prepared(prepared)
    with h.lock.writing():
        written = h.collection.write_prepared(prepared, vectors, upsert=body.upsert)
    notes = [*written.warnings, *([summary(skipped)] if skipped else [])]
    return with_warnings({"ids": written.documents, "chunks": len(written.ids),
                          "skipped": [{"file": s.path, "reason": s.reason, "kind": s.kind} for s in skipped]}, notes)


class SyncFolder(Strict):
    folder: str = Field(description="A folder under one of the server's `serve --source-root` folders: relative "
                                    "to it, or absolute. Ids and metadata `source` are FOLDER/PATH, as "
                                    "`embkit sync DIR FOLDER` names them.")
    include: list[str] | None = None
    exclude: list[str] | None = None
    dry_run: Flag = False


@router.post("/collections/{name}/sync")
def sync_folder_route(name: str, body: SyncFolder, request: Request, _=Depends(requires("write"))) -> dict[str, Any]:
    """Make the collection mirror a folder the server can read (only under a
    `--source-root`), as `embkit sync` does: {"counts": {added, changed, unchanged,
    removed, skipped}, "added", "changed", "removed", "skipped", "documents", "deleted",
    "embedded", "cached", "dry_run", "warnings"}. Files are read and embedded beside
    searches; each batch's write takes the write lock."""
    if not body.folder or "\x00" in body.folder or len(body.folder) > validate.MAX_ID_CHARS:
        raise EmbkitError(f"folder: expected a name of 1 to {validate.MAX_ID_CHARS} characters")
    validate.check_unicode(body.folder, "folder")
    folder = _under_source_root(body.folder, request.app.state.source_roots)
    h = hosted(request, name)
    done = sync_folder(h.collection, folder, include=body.include, exclude=body.exclude, dry_run=body.dry_run,
                       name=body.folder, reading=h.lock.reading, writing=h.lock.writing)
    return done.as_dict()


def _under_source_root(folder: str, roots: list[Path]) -> Path:
    """The folder `folder` names under the first source root that holds it (symlinks
    followed); a folder elsewhere is refused: a client must not make the server read
    files of its choosing."""
    if not roots:
        raise ApiError(403, "folder: this server reads no folders; start it with `embkit serve --source-root DIR`")
    for root in roots:
        path = (root / folder).resolve()  # an absolute folder stays itself
        if path.is_relative_to(root) and path.is_dir():
            return path
    raise ApiError(403, f"folder: {folder!r} is not a folder under a --source-root of the server")
