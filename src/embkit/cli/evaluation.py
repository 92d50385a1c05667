"""Embedding quality beyond retrieval: eval sts, eval classify, eval cluster."""

import typer  # noqa: F401

from .common import app, eval_app  # noqa: F401
