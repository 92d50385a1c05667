"""The store: the source of truth for documents, metadata and vectors."""

from .base import Store
from .schema import DB_NAME, SCHEMA_VERSION
from .sqlite import SQLiteStore
from .types import Record, Space
from .where import compile_where, parse_where

__all__ = ["Store", "DB_NAME", "SCHEMA_VERSION", "Record", "Space", "SQLiteStore", "compile_where", "parse_where"]
