"""`embkit mcp`: serve collections to agents over stdio (Model Context Protocol)."""

import typer

from ..errors import EmbkitError
from .common import app


@app.command("mcp")
def mcp_command(
    paths: list[str] = typer.Argument(
        ...,
        metavar="DIR...",
        help="Collection folders (or postgresql://…/db?collection=NAME) to serve, each named by its folder.",
    ),
    allow_write: bool = typer.Option(
        False, "--allow-write", help="Also offer the tools add and delete (without it the collections are only read)."
    ),
) -> None:
    """Serve collections to an agent over stdio with the Model Context Protocol: tools
    search, context and get (add and delete with --allow-write), and each collection as
    a resource embkit://collections/NAME. Logs go to stderr; stdout is the protocol."""
    try:
        from ..integrations.mcp_server import serve
    except ImportError as e:
        if not (e.name or "").startswith("mcp"):
            raise
        raise EmbkitError(
            f"mcp: the MCP server needs the mcp extra ({e.name} is missing): pip install 'embkit[mcp]'"
        ) from None
    serve(paths, allow_write=allow_write)
