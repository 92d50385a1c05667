"""Metrics: hand-computed examples, then every per-query value against pytrec_eval on real runs."""

import math
import re
from collections import Counter

import numpy as np
import pytest
import pytrec_eval

from embkit.errors import EmbkitError
from embkit.evaluate import average_precision, evaluate, load_beir, mrr, ndcg, precision, recall
from embkit.evaluate.metrics import parse_measure

from corpora import DATA

L2 = math.log2

# One query with a tie: "a" and "c" both score 2.0, and trec_eval breaks ties by docid
# descending, so the ranking is x, c, a, b with gains 0, 0 (judged 0), 1, 1.
TIED_RUN = {"q": {"x": 3.0, "a": 2.0, "c": 2.0, "b": 1.0}}
TIED_QRELS = {"q": {"a": 1, "b": 1, "c": 0}}


def test_ties_break_by_docid_descending():
    assert mrr(TIED_RUN, TIED_QRELS, 2) == {"q": 0.0}  # ranks 1-2 are x, c: no relevant doc (a-first would give 1/2)
    assert mrr(TIED_RUN, TIED_QRELS, 3) == {"q": pytest.approx(1 / 3)}  # a at rank 3
    assert precision(TIED_RUN, TIED_QRELS, 2) == {"q": 0.0}
    assert precision(TIED_RUN, TIED_QRELS, 4) == {"q": 0.5}  # 2 relevant / 4
    assert recall(TIED_RUN, TIED_QRELS, 3) == {"q": 0.5}  # 1 of 2 relevant
    # AP@4 = (P@3 + P@4) / 2 relevant = (1/3 + 2/4) / 2; AP@3 = (1/3) / 2
    assert average_precision(TIED_RUN, TIED_QRELS, 4)["q"] == pytest.approx((1 / 3 + 2 / 4) / 2)
    assert average_precision(TIED_RUN, TIED_QRELS, 3)["q"] == pytest.approx(1 / 6)
    # DCG@4 = 1/log2(4) + 1/log2(5); ideal = 1/log2(2) + 1/log2(3) = 1 + 0.6309
    expected = (1 / L2(4) + 1 / L2(5)) / (1 + 1 / L2(3))
    assert ndcg(TIED_RUN, TIED_QRELS, 4)["q"] == pytest.approx(expected)  # = 0.5706...


def test_graded_gains_and_k_beyond_the_run():
    qrels = {"q": {"a": 3, "b": 2, "c": 1, "d": 0}}
    run = {"q": {"c": 0.9, "a": 0.8, "z": 0.7}}  # gains 1, 3, 0
    # DCG@3 = 1/1 + 3/log2(3) + 0 = 2.8928; ideal@3 = 3 + 2/log2(3) + 1/2 = 4.7619 (b was never retrieved)
    expected = (1 + 3 / L2(3)) / (3 + 2 / L2(3) + 1 / 2)
    assert ndcg(run, qrels, 3)["q"] == pytest.approx(expected)  # = 0.6075
    assert ndcg(run, qrels, 1)["q"] == pytest.approx(1 / 3)  # ideal cut at k: 1 / 3
    # k = 10 > 3 results: DCG and ideal DCG are unchanged, P divides by k, not by the 3 returned
    assert ndcg(run, qrels, 10)["q"] == pytest.approx(expected)
    assert precision(run, qrels, 10)["q"] == pytest.approx(2 / 10)
    assert recall(run, qrels, 10)["q"] == pytest.approx(2 / 3)
    assert average_precision(run, qrels, 10)["q"] == pytest.approx((1 / 1 + 2 / 2) / 3)
    assert mrr(run, qrels, 10)["q"] == 1.0


def test_negative_gain_is_not_relevant():
    qrels = {"q": {"bad": -1, "good": 1}}
    run = {"q": {"bad": 2.0, "good": 1.0}}
    # "bad" adds nothing (not -1) to DCG: 1/log2(3) over an ideal of 1
    assert ndcg(run, qrels, 2)["q"] == pytest.approx(1 / L2(3))
    assert mrr(run, qrels, 2)["q"] == 0.5


def test_missing_and_empty_queries_count_zero_extra_queries_are_ignored():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 1}, "q4": {"d": 0}}
    run = {"q1": {"a": 1.0}, "q2": {}, "not-judged": {"a": 1.0}}  # q3 absent; q4 has no relevant doc
    for measure in (ndcg, recall, mrr, average_precision):
        assert measure(run, qrels, 10) == {"q1": 1.0, "q2": 0.0, "q3": 0.0, "q4": 0.0}
    assert precision(run, qrels, 10) == {"q1": 0.1, "q2": 0.0, "q3": 0.0, "q4": 0.0}
    # means over all 4 qrels queries: ndcg (1 + 0 + 0 + 0) / 4
    assert evaluate(run, qrels, ["ndcg@10"]) == {"ndcg@10": 0.25}
    assert evaluate({}, qrels, "recall@5") == {"recall@5": 0.0}


def test_evaluate_default_measures_and_names():
    scores = evaluate(TIED_RUN, TIED_QRELS)
    assert list(scores) == ["ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100"]
    assert scores["mrr@10"] == pytest.approx(1 / 3)
    scores = evaluate(TIED_RUN, TIED_QRELS, ["NDCG@4", "precision@2"])
    assert scores == {"ndcg@4": pytest.approx(0.570642, abs=1e-6), "precision@2": 0.0}


def test_parse_measure():
    assert parse_measure("ndcg@10") == ("ndcg", 10)
    assert parse_measure(" MAP@100 ") == ("map", 100)
    for bad in ("ndcg", "ndcg@0", "ndcg@-1", "bleu@10", "ndcg@ten", "", None):
        with pytest.raises(EmbkitError, match=r"^measures: .*ndcg, recall, precision, mrr, map"):
            parse_measure(bad)
    with pytest.raises(EmbkitError, match="measures: unknown measure 'mrr@'"):
        evaluate(TIED_RUN, TIED_QRELS, ["ndcg@10", "mrr@"])
    with pytest.raises(EmbkitError, match="^k: "):
        ndcg(TIED_RUN, TIED_QRELS, 0)
    with pytest.raises(EmbkitError, match="^qrels: "):
        evaluate(TIED_RUN, {})


# --- cross-check against pytrec_eval on real runs -------------------------------------------------------------

KS = (1, 3, 10, 100, 1000)  # 1000 is beyond the 100-deep run
TREC = {ndcg: "ndcg_cut", recall: "recall", precision: "P", average_precision: "map_cut"}


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def tfidf_run(data, depth: int = 100) -> dict[str, dict[str, float]]:
    """A model-free run: (1 + log tf) * idf summed over query tokens, rounded to 0.1 so many scores tie."""
    ids = list(data.corpus)
    postings: dict[str, tuple[list[int], list[int]]] = {}
    for i, docid in enumerate(ids):
        for tok, n in Counter(_tokens(data.doc_text(docid))).items():
            docs, tfs = postings.setdefault(tok, ([], []))
            docs.append(i)
            tfs.append(n)
    weights = {t: (np.array(d), (1 + np.log(tf)) * math.log(len(ids) / len(d))) for t, (d, tf) in postings.items()}
    run = {}
    for qid, text in data.queries.items():
        scores = np.zeros(len(ids))
        for tok in set(_tokens(text)) & weights.keys():
            scores[weights[tok][0]] += weights[tok][1]
        scores = np.round(scores, 1)
        top = np.argsort(-scores, kind="stable")[:depth]
        run[qid] = {ids[i]: float(scores[i]) for i in top if scores[i] > 0}
    return run


def _trec_truncate(run, k):
    """The run cut at k in trec_eval's order, written independently of the code under test."""
    out = {}
    for qid, docs in run.items():
        by_docid = sorted(docs, reverse=True)  # stable sorts: docid descending, then score descending
        out[qid] = {d: docs[d] for d in sorted(by_docid, key=lambda d: -docs[d])[:k]}
    return out


@pytest.fixture(scope="module", params=["scifact", "cranfield"])
def real_run(request):
    folder = DATA / request.param
    data = load_beir(folder, "test")
    return data.qrels, tfidf_run(data)


def test_run_is_realistic_and_has_ties_that_matter(real_run):
    qrels, run = real_run
    # ties between a relevant and a non-relevant doc: the tie-break changes the metrics
    mixed = sum(
        1
        for qid, docs in run.items()
        for score in set(docs.values())
        if len({qrels[qid].get(d, 0) > 0 for d, s in docs.items() if s == score}) == 2
    )
    assert mixed >= 10
    assert 0.2 < evaluate(run, qrels)["ndcg@10"] < 0.9


def test_per_query_values_match_pytrec_eval(real_run):
    qrels, run = real_run
    cuts = ",".join(map(str, KS))
    reference = pytrec_eval.RelevanceEvaluator(qrels, {f"{m}.{cuts}" for m in TREC.values()}).evaluate(run)
    assert len(reference) == len(qrels)  # every test query has a (possibly empty) result list
    for ours, trec in TREC.items():
        for k in KS:
            values = ours(run, qrels, k)
            for qid, ref in reference.items():  # only where both define a value
                assert values[qid] == pytest.approx(ref[f"{trec}_{k}"], abs=1e-6), (trec, k, qid)
    for k in KS:  # trec_eval's recip_rank has no cut: give it the run cut at k
        reference = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(_trec_truncate(run, k))
        values = mrr(run, qrels, k)
        for qid, ref in reference.items():
            assert values[qid] == pytest.approx(ref["recip_rank"], abs=1e-6), ("recip_rank", k, qid)


def test_means_match_pytrec_eval(real_run):
    qrels, run = real_run
    reference = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100", "map_cut.100"}).evaluate(run)
    ours = evaluate(run, qrels, ["ndcg@10", "recall@100", "map@100"])
    for name, trec in (("ndcg@10", "ndcg_cut_10"), ("recall@100", "recall_100"), ("map@100", "map_cut_100")):
        assert ours[name] == pytest.approx(np.mean([v[trec] for v in reference.values()]), abs=1e-6)
