"""Search: exact top-k, dense search over an index; keyword, fusion, rerank and MMR later."""

from .exact import METRICS, top_k
from .hit import Hit

__all__ = ["METRICS", "top_k", "Hit"]
