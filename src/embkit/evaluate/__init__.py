"""Evaluation: retrieval metrics as pure functions (cross-checked against trec_eval) and dataset readers."""

from .beir import BeirData, content_hash, load_beir
from .metrics import average_precision, evaluate, mrr, ndcg, parse_measure, precision, recall

__all__ = [
    "BeirData",
    "average_precision",
    "content_hash",
    "evaluate",
    "load_beir",
    "mrr",
    "ndcg",
    "parse_measure",
    "precision",
    "recall",
]
