"""The MCP tools: search, context and get (add and delete when writes are allowed), each
one Collection call made as the CLI makes it, so its structured result is what the CLI's
--json prints for the same input. Typed parameters: the SDK derives each JSON schema."""

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from ..collection import Collection
from ..errors import EmbkitError
from ..search.hit import hits_payload
from ..search.request import MODES, SearchRequest
from ..validate import MAX_K
from .mcp_render import render_added, render_context, render_deleted, render_hits, render_records
from .mcp_shapes import MAX_BATCH, AddOut, ContextOut, DeleteOut, GetOut, NewDocument, SearchOut

Mode = Literal["dense", "keyword", "hybrid"]
assert set(Mode.__args__) == set(MODES)  # the modes are SearchRequest's
Where = Annotated[
    dict[str, Any] | None,
    Field(
        description="Metadata filter in embkit's where syntax, e.g. "
        '{"year": {"$gte": 2020}, "kind": {"$in": ["note", "howto"]}}.'
    ),
]
READS = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
DELETES = ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False)


@dataclass
class Served:
    """A collection the server holds open, and the lock its calls take in turn (tools
    run in worker threads; one agent's calls rarely overlap)."""

    name: str
    collection: Collection
    lock: threading.Lock = field(default_factory=threading.Lock)


class Shelf:
    """The collections served, by name (their folder's name)."""

    def __init__(self, served: list[Served]):
        self.by_name = {s.name: s for s in served}

    def pick(self, name: str | None) -> Served:
        """The collection `name`, or the only one when `name` is left out."""
        names = ", ".join(self.by_name)
        if name is None:
            if len(self.by_name) == 1:
                return next(iter(self.by_name.values()))
            raise EmbkitError(f"collection: several collections are served; name one of {names}")
        if name not in self.by_name:
            raise EmbkitError(f"collection: no collection named {name!r} is served (served: {names})")
        return self.by_name[name]

    def argument(self):
        """The `collection` parameter's type, naming the collections served."""
        names = ", ".join(self.by_name)
        optional = "; may be left out: only one is served" if len(self.by_name) == 1 else ""
        return Annotated[str | None, Field(description=f"Collection to use, one of: {names}{optional}.")]


def plain(obj: Any) -> Any:
    """`obj` as JSON carries it (numpy numbers as Python ones), as the CLI prints it."""
    return json.loads(json.dumps(obj, ensure_ascii=False, default=_json_default))


def _json_default(x):
    if hasattr(x, "tolist"):  # numpy arrays and numbers
        return x.tolist()
    raise TypeError(f"cannot serialize {type(x).__name__}")


def result(payload: dict, render) -> CallToolResult:
    """A structured result with its short text rendering."""
    payload = plain(payload)
    return CallToolResult(content=[TextContent(type="text", text=render(payload))], structured_content=payload)


def with_warnings(payload: dict, warnings) -> dict:
    return {**payload, "warnings": list(warnings)} if warnings else payload


def check_batch(items: list, name: str) -> None:
    if not items:
        raise EmbkitError(f"{name}: give one or more {name}")
    if len(items) > MAX_BATCH:
        raise EmbkitError(f"{name}: {len(items)} items exceeds the maximum batch of {MAX_BATCH}")


def batch_of(description: str):
    return Field(description=description, json_schema_extra={"minItems": 1, "maxItems": MAX_BATCH})


def register_reads(server, shelf: Shelf) -> None:
    """search, context, get."""
    for make in (search_tool, context_tool, get_tool):
        register(server, make(shelf), READS)


def register_writes(server, shelf: Shelf) -> None:
    """add, delete."""
    register(server, add_tool(shelf), WRITES)
    register(server, delete_tool(shelf), DELETES)


def register(server, tool, annotations: ToolAnnotations) -> None:
    """`tool` on `server`, described by its docstring as one paragraph."""
    server.add_tool(tool, description=" ".join(tool.__doc__.split()), annotations=annotations)


def search_tool(shelf: Shelf):
    """The `search` tool over the collections on `shelf`."""
    Name = shelf.argument()

    def search(
        query: Annotated[str, Field(description="What to look for, in words.")],
        collection: Name = None,
        mode: Annotated[
            Mode, Field(description="dense (by meaning), keyword (BM25 on words) or hybrid (both, fused).")
        ] = "dense",
        k: Annotated[int, Field(description=f"Number of results, 1 to {MAX_K}.")] = 10,
        where: Where = None,
        documents: Annotated[
            bool, Field(description="One result per document (its best chunk) instead of one per chunk.")
        ] = False,
    ) -> Annotated[CallToolResult, SearchOut]:
        """Search a collection by meaning, by keywords or both. Each hit has its id, the
        document it belongs to, its score (higher is better), text and metadata: what
        `embkit search DIR QUERY --json` prints."""
        served = shelf.pick(collection)
        request = SearchRequest(query, k=k, where=where, mode=mode, documents=documents)
        with served.lock:
            if mode != "keyword":  # as the CLI does: the index caught up before the clock starts
                served.collection.refresh_index()
            started = time.perf_counter()
            found = served.collection.find(request)
        return result(hits_payload(found.hits, (time.perf_counter() - started) * 1000, found.warnings), render_hits)

    return search


def context_tool(shelf: Shelf):
    """The `context` tool over the collections on `shelf`."""
    Name = shelf.argument()

    def context(
        question: Annotated[str, Field(description="The question to gather context for.")],
        collection: Name = None,
        budget_tokens: Annotated[int, Field(description="At most this many tokens of passages.")] = 1500,
        k: Annotated[int, Field(description="Candidates to choose passages from.")] = 20,
        where: Where = None,
        mode: Annotated[Mode | None, Field(description="dense, keyword or hybrid (default hybrid).")] = None,
    ) -> Annotated[CallToolResult, ContextOut]:
        """Numbered, cited, deduplicated passages for a question within a token budget,
        ready to paste into a prompt: `text` holds them under citation markers [n], and
        `passages` says where each comes from (what `embkit context --json` prints)."""
        served = shelf.pick(collection)
        with served.lock:
            ctx, notes = served.collection.find_context(
                question, budget_tokens, k=k, where=where, mode=mode, rerank=None, reranker=None
            )
        return result(with_warnings(ctx.to_dict(), notes), render_context)

    return context


def get_tool(shelf: Shelf):
    """The `get` tool over the collections on `shelf`."""
    Name = shelf.argument()

    def get(
        ids: Annotated[
            list[str],
            batch_of("Document ids (a document stored as chunks gives its chunks, in order) or chunk ids (ID#i)."),
        ],
        collection: Name = None,
    ) -> Annotated[CallToolResult, GetOut]:
        """Stored documents by id, with their text and metadata (what `embkit get --json`
        prints). An id that is not stored is an error naming it."""
        check_batch(ids, "ids")
        served = shelf.pick(collection)
        with served.lock:
            docs = served.collection.lookup(ids).documents
        found = {d.id for d in docs} | {d.metadata.get("parent") for d in docs}
        missing = [i for i in ids if i not in found]
        if missing:  # as the CLI says it
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise EmbkitError(f"ids: no document with id {missing[0]!r}{more}")
        rows = [{"id": d.id, "text": d.text, "metadata": d.metadata} for d in docs]
        return result({"documents": rows}, render_records)

    return get


def add_tool(shelf: Shelf):
    """The `add` tool over the collections on `shelf`."""
    Name = shelf.argument()

    def add(
        documents: Annotated[
            list[NewDocument], batch_of("The documents to embed and store, in one transaction: all land or none.")
        ],
        collection: Name = None,
        upsert: Annotated[
            bool,
            Field(
                description="Replace documents whose id exists (and the chunks they had) instead of refusing the batch."
            ),
        ] = False,
    ) -> Annotated[CallToolResult, AddOut]:
        """Embed and store documents (text, optional id and metadata); returns their ids."""
        check_batch(documents, "documents")
        texts = [d.text for d in documents]
        ids = [d.id for d in documents] if any(d.id is not None for d in documents) else None
        served = shelf.pick(collection)
        with served.lock:
            col = served.collection
            prepared = col.prepare(texts, ids=ids, metadatas=[d.metadata or {} for d in documents])
            written = col.write_prepared(prepared, upsert=upsert)
            count = col.count()
        return result(
            with_warnings({"ids": written.documents}, written.warnings),
            lambda payload: render_added(payload, upsert, count),
        )

    return add


def delete_tool(shelf: Shelf):
    """The `delete` tool over the collections on `shelf`."""
    Name = shelf.argument()

    def delete(
        ids: Annotated[
            list[str], batch_of("Ids to delete: a document id deletes all its chunks, a chunk id that chunk.")
        ],
        collection: Name = None,
    ) -> Annotated[CallToolResult, DeleteOut]:
        """Delete documents by id, in one transaction (what `embkit delete --json` prints)."""
        check_batch(ids, "ids")
        served = shelf.pick(collection)
        with served.lock:
            deleted = served.collection.remove(ids)
            count = served.collection.count()
        return result({"deleted": deleted.chunks, "documents": deleted.documents, "count": count}, render_deleted)

    return delete
