"""Retrieval metrics as pure functions over plain dicts, agreeing with trec_eval (pytrec_eval).

- ``run``:   ``{qid: {docid: score}}``, higher score is better.
- ``qrels``: ``{qid: {docid: gain}}``, int gains; a gain <= 0 means judged not relevant.

Ranking: as trec_eval does, a query's documents are sorted by score descending and ties
are broken by docid descending (plain string comparison), so a result never depends on
dict order and matches pytrec_eval exactly.

Which queries count: every query in ``qrels`` gets a value. A qrels query that is missing
from the run, or has no results, scores 0 on every measure: a system that returns nothing
is not let off. (BEIR's ``EvaluateRetrieval`` averages only over the queries pytrec_eval
returns, i.e. those present in the run; with a complete run both agree.) A qrels query
with no relevant document scores 0, as in trec_eval. Run queries that are not in qrels
are ignored: there is nothing to judge them by.
"""

import re
from typing import Callable, Iterable, Mapping

import numpy as np

from ..errors import EmbkitError

Run = Mapping[str, Mapping[str, float]]
Qrels = Mapping[str, Mapping[str, int]]


def _ranked(scores: Mapping[str, float], k: int) -> list[str]:
    # trec_eval order: score descending, then docid descending (strcmp).
    return sorted(scores, key=lambda doc: (scores[doc], doc), reverse=True)[:k]


def _per_query(run: Run, qrels: Qrels, k: int, measure: Callable[..., float]) -> dict[str, float]:
    """Apply ``measure(gains, judged, k)`` to each qrels query; ``gains`` are the top-k gains (<= 0 as 0)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise EmbkitError(f"k: expected a positive integer, got {k!r}")
    out = {}
    for qid, judged in qrels.items():
        ranked = _ranked(run.get(qid) or {}, k)
        gains = np.array([max(judged.get(doc, 0), 0) for doc in ranked], dtype=np.float64)
        out[qid] = float(measure(gains, judged, k))
    return out


def _num_relevant(judged: Mapping[str, int]) -> int:
    return sum(1 for gain in judged.values() if gain > 0)


def _dcg(gains: np.ndarray) -> float:
    # Linear gains, log2 discount: rank r is worth gain / log2(r + 1).
    return float(np.sum(gains / np.log2(np.arange(2, gains.size + 2))))


def _ndcg(gains: np.ndarray, judged: Mapping[str, int], k: int) -> float:
    # The ideal ranking comes from every judged gain of the query, not just the retrieved ones.
    ideal = _dcg(np.array(sorted((g for g in judged.values() if g > 0), reverse=True)[:k], dtype=np.float64))
    return _dcg(gains) / ideal if ideal > 0 else 0.0


def _recall(gains: np.ndarray, judged: Mapping[str, int], k: int) -> float:
    n_rel = _num_relevant(judged)
    return np.count_nonzero(gains > 0) / n_rel if n_rel else 0.0


def _precision(gains: np.ndarray, judged: Mapping[str, int], k: int) -> float:
    # Divided by k even when fewer than k documents were returned (trec_eval's P_k).
    return np.count_nonzero(gains > 0) / k


def _mrr(gains: np.ndarray, judged: Mapping[str, int], k: int) -> float:
    hits = np.flatnonzero(gains > 0)
    return 1.0 / (hits[0] + 1) if hits.size else 0.0


def _average_precision(gains: np.ndarray, judged: Mapping[str, int], k: int) -> float:
    # Precision at each relevant rank within k, summed, over all relevant documents (map_cut_k).
    n_rel = _num_relevant(judged)
    hits = gains > 0
    if not n_rel or not hits.any():
        return 0.0
    precisions = np.cumsum(hits) / np.arange(1, hits.size + 1)
    return float(precisions[hits].sum() / n_rel)


def ndcg(run: Run, qrels: Qrels, k: int) -> dict[str, float]:
    """nDCG@k per query (trec_eval ``ndcg_cut_k``): linear gains, log2 discount, ideal from all judged gains."""
    return _per_query(run, qrels, k, _ndcg)


def recall(run: Run, qrels: Qrels, k: int) -> dict[str, float]:
    """Recall@k per query (trec_eval ``recall_k``): relevant docs in the top k / all relevant docs."""
    return _per_query(run, qrels, k, _recall)


def precision(run: Run, qrels: Qrels, k: int) -> dict[str, float]:
    """Precision@k per query (trec_eval ``P_k``): relevant docs in the top k / k."""
    return _per_query(run, qrels, k, _precision)


def mrr(run: Run, qrels: Qrels, k: int) -> dict[str, float]:
    """Reciprocal rank of the first relevant doc in the top k, else 0 (trec_eval ``recip_rank`` on a run cut at k)."""
    return _per_query(run, qrels, k, _mrr)


def average_precision(run: Run, qrels: Qrels, k: int) -> dict[str, float]:
    """Average precision cut at k per query (trec_eval ``map_cut_k``); its mean is MAP@k."""
    return _per_query(run, qrels, k, _average_precision)


MEASURES: dict[str, Callable[[Run, Qrels, int], dict[str, float]]] = {
    "ndcg": ndcg,
    "recall": recall,
    "precision": precision,
    "mrr": mrr,
    "map": average_precision,
}
_MEASURE_RE = re.compile(r"^\s*([a-z]+)@([1-9][0-9]*)\s*$")


def parse_measure(text: str) -> tuple[str, int]:
    """Split a measure name such as ``"ndcg@10"`` into ``("ndcg", 10)``; EmbkitError on a bad one."""
    match = _MEASURE_RE.match(text.lower()) if isinstance(text, str) else None
    if not match or match.group(1) not in MEASURES:
        raise EmbkitError(
            f"measures: unknown measure {text!r}; expected NAME@K with NAME one of "
            f"{', '.join(MEASURES)} and K a positive integer, e.g. 'ndcg@10'"
        )
    return match.group(1), int(match.group(2))


def evaluate(
    run: Run,
    qrels: Qrels,
    measures: str | Iterable[str] = ("ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100"),
) -> dict[str, float]:
    """Mean of each measure over every query in ``qrels`` (see the module docstring), keyed ``"name@k"``."""
    if isinstance(measures, str):
        measures = (measures,)
    parsed = [parse_measure(m) for m in measures]
    if not parsed:
        raise EmbkitError("measures: expected at least one measure, e.g. 'ndcg@10'")
    if not qrels:
        raise EmbkitError("qrels: no queries to evaluate")
    results = {}
    for name, k in parsed:
        per_query = MEASURES[name](run, qrels, k)
        results[f"{name}@{k}"] = float(np.mean(list(per_query.values())))
    return results
