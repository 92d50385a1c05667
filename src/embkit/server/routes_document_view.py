"""The whole document a hit came from, as the web page shows it: its text rebuilt from
its chunks, the hit's passage marked, markdown rendered. The markdown file itself is read
only from under a `serve --source-root` folder (metadata comes from clients: a path in
it must never make the server read a file of its choosing), and only while ingest would
still read it as the stored text; else the stored text is shown, as paragraphs."""

from pathlib import Path

from fastapi import APIRouter, Depends, Query, Request, Response

from ..ingest.markdown import markdown_visible
from .auth import requires
from .encoding import encode
from .hosting import NotFound
from .markdown_tree import locate, mark, markdown_tree, nonspace, text_tree, tree_text
from .params_unread import refuse_unread
from .state import hosted
from .whole_document import WholeDocument, whole_document

router = APIRouter(tags=["documents"], dependencies=[Depends(refuse_unread)])
MARKDOWN = (".md", ".markdown")
MAX_SOURCE_BYTES = 16 * 1024 * 1024


@router.get("/collections/{name}/view", response_model=dict)
def view(name: str, request: Request, id: str = Query(..., description="A document id or a chunk id"),
         _=Depends(requires("read"))) -> Response:
    """The whole document `id` names, or the one the chunk `id` belongs to: {"id",
    "metadata" (the document's), "chunks" [{"id", "start", "end"}], "text" (rebuilt from
    the chunks), "hit" (the chunk asked for, or null), "format" ("markdown" or "text"),
    "rendered" (what "body" was built from: "markdown" or "text"), "body" (a tree of
    [tag, {attributes}, ...children] and strings), "notes"}."""
    h = hosted(request, name)
    with h.lock.reading():
        document = whole_document(h.collection, id)
    if document is None:
        raise NotFound(f"id: no document or chunk with id {id!r}")
    return Response(encode(_view(document, request.app.state.source_roots)), media_type="application/json")


def _view(document: WholeDocument, roots: list[Path]) -> dict:
    source = document.metadata.get("source")
    markdown = isinstance(source, str) and source.lower().endswith(MARKDOWN)
    notes, body = [], None
    if markdown:
        markup = _source_markup(source, roots)
        if markup is None:
            notes.append(f"{source} is not under a --source-root of the server: showing the stored text"
                         if roots else "showing the stored text (serve --source-root DIR renders markdown files)")
        elif nonspace(markdown_visible(markup)[0]) != nonspace(document.text):
            notes.append(f"{source} changed since it was added: showing the stored text")
        else:
            body = markdown_tree(markup)
    rendered = "markdown" if body is not None else "text"
    if body is None:
        body = text_tree(document.text, document.sections)
    hit = document.hit
    if hit is not None:
        found = locate(nonspace(tree_text(body)), document.text, hit["start"], hit["end"])
        if found is None and rendered == "markdown":  # the stored text always holds it
            body, rendered = text_tree(document.text, document.sections), "text"
            found = locate(nonspace(tree_text(body)), document.text, hit["start"], hit["end"])
        if found is not None:
            body = mark(body, *found)
    return {"id": document.id, "metadata": document.metadata, "chunks": document.chunks, "text": document.text,
            "hit": hit, "format": "markdown" if markdown else "text", "rendered": rendered, "body": body,
            "notes": notes}


def _source_markup(source: str, roots: list[Path]) -> str | None:
    """The markdown file `source` names if it lies under one of `roots` (symlinks
    followed), else None."""
    for root in roots:
        try:
            path = (root / source).resolve()  # an absolute source stays itself
            if not path.is_relative_to(root) or not path.is_file() or path.stat().st_size > MAX_SOURCE_BYTES:
                continue
            return path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError, ValueError):
            continue
    return None
