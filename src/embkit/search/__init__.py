"""Search: one SearchRequest (request.py) run through the stages of pipeline.py: dense and
keyword candidates, fusion, best chunk per document, rerank, MMR; and RAG context."""

from .exact import METRICS, top_k
from .hit import Hit

__all__ = ["METRICS", "top_k", "Hit"]
