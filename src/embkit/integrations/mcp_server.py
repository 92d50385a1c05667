"""embkit as an MCP server over stdio (`embkit mcp DIR...`): the tools `search`,
`context` and `get` (and `add`, `delete` with allow_write) over the Collection API, and
each collection as a resource `embkit://collections/NAME`. A tool's structured result is
the object the CLI's --json prints for the same input; bad input is a tool error whose
text is embkit's one-line message. stdout is the protocol: logs go to stderr."""

import json
import logging
import sqlite3
import threading
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Sequence

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.resources import Resource
from mcp.types import CallToolResult, Resource as ResourceInfo, TextContent
from pydantic import Field, ValidationError

from ..collection import open as open_collection
from ..errors import EmbkitError
from ..validate import printable
from .mcp_tools import Served, Shelf, register_reads, register_writes

log = logging.getLogger("embkit.mcp")
WRITE_TOOLS = ("add", "delete")
URI = "embkit://collections/{name}"


class EmbkitMCP(MCPServer):
    """The SDK's server, with embkit's errors as one-line tool errors and resources
    listed with their counts as they are now."""

    def __init__(self, shelf: Shelf, allow_write: bool, **options):
        super().__init__(**options)
        self.shelf, self.allow_write = shelf, allow_write

    async def call_tool(self, name: str, arguments: dict[str, Any], context=None):
        if name in WRITE_TOOLS and not self.allow_write:
            return error_result(
                f"{name}: this server is read-only; start it with `embkit mcp DIR --allow-write` "
                "to add or delete documents"
            )
        unknown = self._unknown_argument(name, arguments)
        if unknown is not None:  # the HTTP door refuses unknown fields too: a misspelt `where` filtered nothing
            log.info("tool %s refused: %s", name, unknown)
            return error_result(unknown)
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            line = one_line(exc.__cause__, expected=not isinstance(exc, UnexpectedToolError))
            if line is None:
                raise  # a crash: the SDK logs it on stderr and tells the client no more than the tool's name
            log.info("tool %s refused: %s", name, line)
            return error_result(line)

    def _unknown_argument(self, name: str, arguments: dict[str, Any] | None) -> str | None:
        """The line for the first argument `name` does not take (the SDK drops them silently), else None."""
        tool = self._tool_manager.get_tool(name)
        if tool is None or not arguments:
            return None
        allowed = tool.parameters.get("properties", {})
        extra = [key for key in arguments if key not in allowed]
        if not extra:
            return None
        got = json.dumps(arguments[extra[0]], default=str)[:80]
        return f"{printable(extra[0][:80])}: unknown argument (allowed: {', '.join(allowed)}), got {got}"

    async def list_resources(self) -> list[ResourceInfo]:
        listed = await super().list_resources()
        notes = await anyio.to_thread.run_sync(lambda: {s.name: describe(s) for s in self.shelf.by_name.values()})
        return [r.model_copy(update={"description": notes.get(r.name, r.description)}) for r in listed]


class CollectionResource(Resource):
    """A served collection: its model, counts and metadata fields, as JSON."""

    served: Any = Field(exclude=True)

    async def read(self) -> str:
        return json.dumps(await anyio.to_thread.run_sync(summary, self.served), ensure_ascii=False)


def error_result(line: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=line)], is_error=True)


def one_line(cause: BaseException | None, expected: bool = True) -> str | None:
    """The line a client reads for what went wrong: embkit's own message, or the first
    argument the schema refused (`field: what is wrong, got VALUE`); None for a crash
    (a result of ours that fails its own schema is one too: not `expected`)."""
    if isinstance(cause, EmbkitError):
        return str(cause)
    if isinstance(cause, (sqlite3.Error, OSError)):
        return f"{type(cause).__name__}: {cause}"  # as the CLI prints them
    if isinstance(cause, ValidationError) and expected:
        first = cause.errors()[0]
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"])
        where = where.lstrip(".") or "arguments"  # documents[0].text, as embkit names a field
        message = first["msg"][:1].lower() + first["msg"][1:]
        got = "" if first["type"] == "missing" else f", got {json.dumps(first.get('input'), default=str)[:80]}"
        more = f" (and {cause.error_count() - 1} more)" if cause.error_count() > 1 else ""
        return f"{where}: {message}{got}{more}"
    return None


def summary(served: Served) -> dict:
    """A collection as its resource shows it."""
    with served.lock:
        col = served.collection
        info = col.info()
        fields = col.fields(top=10)
    return {
        "name": served.name,
        "model": info["model"],
        "dim": info["dim"],
        "metric": info["metric"],
        "documents": info["documents"],
        "chunks": info["chunks"],
        "spaces": sorted(info["spaces"]),
        "fields": fields,
    }


def describe(served: Served) -> str:
    """One line for the resource list: model, counts and metadata fields."""
    s = summary(served)
    fields = ", ".join(s["fields"]) or "none"
    return (
        f"embkit collection {s['name']}: model {s['model']} ({s['dim']}-d, {s['metric']}), "
        f"{s['documents']} documents in {s['chunks']} chunks; metadata fields: {fields}"
    )


def build(shelf: Shelf, allow_write: bool = False) -> EmbkitMCP:
    """The MCP server over the collections on `shelf`: read tools always, write tools
    only when `allow_write`, and one resource per collection."""
    names = ", ".join(shelf.by_name)
    server = EmbkitMCP(
        shelf,
        allow_write,
        name="embkit",
        log_level="WARNING",
        lifespan=warming(shelf),
        instructions=f"embkit collections served: {names}. Use `search` to find passages by "
        "meaning or keywords, `context` for cited passages to answer a question, `get` to read "
        "documents by id" + (", `add` and `delete` to change them." if allow_write else "."),
    )
    register_reads(server, shelf)
    if allow_write:
        register_writes(server, shelf)
    for served in shelf.by_name.values():
        server.add_resource(
            CollectionResource(
                uri=URI.format(name=served.name),
                name=served.name,
                title=f"embkit collection {served.name}",
                mime_type="application/json",
                served=served,
            )
        )
    return server


def open_shelf(paths: Sequence[str]) -> Shelf:
    """The collections at `paths`, opened (an error names the first that cannot be),
    named by their folder; two of one name are refused."""
    served: list[Served] = []
    try:
        for path in paths:
            col = open_collection(path)
            served.append(Served(col.name, col))
            if [s.name for s in served].count(col.name) > 1:
                raise EmbkitError(f"paths: two collections named {col.name!r}; serve folders of different names")
    except BaseException:
        for s in served:
            s.collection.close(save=False)
        raise
    return Shelf(served)


def warming(shelf: Shelf):
    """The server's lifespan: it starts once stdio is taken (anything a model load
    prints then goes to stderr, never into the protocol) and warms the models."""

    @asynccontextmanager
    async def lifespan(_server) -> AsyncIterator[dict]:
        warm(shelf)
        yield {}

    return lifespan


def warm(shelf: Shelf) -> None:
    """Load the models in the background, so the handshake answers at once and the
    first search does not wait for the whole load (a failure shows at that search)."""

    def load(served: Served) -> None:
        try:
            _ = served.collection.encoder
        except Exception:  # noqa: BLE001 - the tool call that needs it reports it
            pass

    for served in shelf.by_name.values():
        if served.collection.space.model != "none":
            threading.Thread(target=load, args=(served,), daemon=True, name=f"load {served.name}").start()


def serve(paths: Sequence[str], allow_write: bool = False) -> None:
    """Serve the collections at `paths` over stdio until the client closes stdin; the
    collections' caches are saved on the way out."""
    shelf = open_shelf(paths)
    try:
        build(shelf, allow_write).run("stdio")
    finally:
        for served in shelf.by_name.values():
            with served.lock:
                served.collection.close()
