"""A collection: one folder (or PostgreSQL database), one store, one or more named vector
spaces. The CLI, the server and the integrations all go through it; none of them
touches the store or the encoders directly. The class is a thin facade (facade.py) over
ingest/ (writing and reading documents), search/, analysis/, index/ and maintenance/."""

from ..ingest.lookup import Document
from ..ingest.remove import Deleted
from .facade import Collection
from .opening import create, open, restore
from .spaces import DEFAULT_SPACE, IMAGE_SPACE
from .vectors import Table

__all__ = ["DEFAULT_SPACE", "IMAGE_SPACE", "Collection", "Deleted", "Document", "Table", "create", "open", "restore"]
