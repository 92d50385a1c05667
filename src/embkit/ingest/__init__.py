"""Ingest: read files into batches of documents (chunkers come later)."""

from .readers import FORMATS, Batch, read_source

__all__ = ["FORMATS", "Batch", "read_source"]
