"""Cleaning and comparing: outliers, dedupe, recommend, drift."""

from .common import app  # noqa: F401
