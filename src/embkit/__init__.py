"""embkit: a local-first embeddings engine.

    import embkit
    col = embkit.create("notes", model="minilm")
    col.add(["the cat sat on the mat"], ids=["a"], metadatas=[{"kind": "demo"}])
    col.search("where did the cat sit?", k=3)
"""

from .collection import Collection, Document, create, open, restore
from .encoders import Encoder, load_encoder
from .encoders.prompts import encode_as
from .errors import EmbkitError, EmbkitWarning
from .search import Hit
from .search.request import SearchRequest

__version__ = "0.1.0"

__all__ = ["create", "open", "restore", "Collection", "Document", "Hit", "SearchRequest", "Encoder", "EmbkitError",
           "EmbkitWarning", "load_encoder", "encode_as", "__version__"]
