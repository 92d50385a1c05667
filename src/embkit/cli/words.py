"""Word-vector commands: analogy, neighbors."""

import typer  # noqa: F401

from .common import app, eval_app  # noqa: F401
