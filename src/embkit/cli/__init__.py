"""The command line: parses, calls the library, prints. Errors are one line on stderr;
exit 0 on success, 1 on bad input or failure, 2 on a usage error, 3 when `add` skipped
unreadable files in a folder (the others landed). One module per group of commands;
importing them registers them on `app`, in the order `--help` lists them."""

import sqlite3
import sys
import warnings

import typer

from ..errors import EmbkitError
from . import (  # noqa: F401 - registers the commands
    analysis,
    cleaning,
    distributed,
    documents,
    evaluation,
    maintenance,
    mcp,
    models,
    reembed,
    retrieval,
    search,
    serving,
    snapshot,
    sync,
    training,
    words,
)
from .common import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point: one-line errors, exit 1 for bad input or failure; warnings as one
    `warning: ...` line on stderr (no file names or source lines)."""
    warnings.showwarning = _show_warning
    try:
        app()
    except EmbkitError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(1)
    except (sqlite3.Error, OSError) as e:
        typer.echo(f"error: {type(e).__name__}: {e}", err=True)
        sys.exit(1)


_shown: set[str] = set()  # a warning given at several places of one command prints once


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if str(message) not in _shown:
        _shown.add(str(message))
        typer.echo(f"warning: {message}", err=True)
