"""Encoders: text → float32 vectors, chosen by name from the catalog."""

from .base import Encoder
from .catalog import CATALOG, DEFAULT_MODEL, CatalogEntry
from .loader import load_encoder

__all__ = ["Encoder", "CATALOG", "DEFAULT_MODEL", "CatalogEntry", "load_encoder"]
