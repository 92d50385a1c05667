"""Commands of the analysis work: cluster, map, outliers, dedupe, recommend, drift."""

import typer  # noqa: F401

from .common import app, eval_app  # noqa: F401
