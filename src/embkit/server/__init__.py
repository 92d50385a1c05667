"""The HTTP server: a FastAPI application over the Collection API, API keys with scopes,
limits, and a web page (search and map)."""

from .app import create_app
from .hosting import Collections, check_name
from .keys import SCOPES, KeyStore
from .limits import Limits

__all__ = ["create_app", "Collections", "check_name", "KeyStore", "SCOPES", "Limits"]
