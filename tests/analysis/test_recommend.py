"""Recommendations on real BANKING77 queries with MiniLM: the Rocchio profile ranks
like a brute-force search, liked/disliked/excluded ids never come back (checked over
many random choices), and disliked topics sink."""

import csv
from collections import Counter

import numpy as np
import pytest

import embkit
from embkit.errors import EmbkitError

from corpora import DATA

CATEGORIES = ("card_arrival", "exchange_rate", "pending_cash_withdrawal", "lost_or_stolen_card", "top_up_failed",
              "atm_support", "change_pin", "refund_not_showing_up")


@pytest.fixture(scope="module")
def col(tmp_path_factory, minilm):
    """The distinct queries (280) of 8 BANKING77 intents, in file order."""
    path = DATA / "banking77" / "test.csv"
    with open(path, encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["category"] in CATEGORIES]
    per = Counter()
    texts, metas = [], []
    for r in rows:
        if per[r["category"]] < 40 and r["text"] not in texts:
            per[r["category"]] += 1
            texts.append(r["text"])
            metas.append({"category": r["category"], "n": len(texts)})
    c = embkit.create(tmp_path_factory.mktemp("recommend") / "c", model="minilm")
    c._encoder = minilm
    c.add(texts, ids=[f"q{i}" for i in range(len(texts))], metadatas=metas)
    assert c.count() == 280
    yield c
    c.close()


def ids_of(col, category: str) -> list[str]:
    return [d.id for d in col.get(where={"category": category})]


def test_profile_search_matches_brute_force_rocchio(col):
    table = col.table()
    vec = dict(zip(table.ids, table.vectors))
    liked, disliked = ids_of(col, "card_arrival")[:3], ids_of(col, "lost_or_stolen_card")[:2]
    hits = col.recommend(liked, disliked, k=15, disliked_weight=0.7)
    profile = np.mean([vec[i] for i in liked], axis=0) - 0.7 * np.mean([vec[i] for i in disliked], axis=0)
    profile /= np.linalg.norm(profile)
    scores = table.vectors @ profile
    order = [table.ids[i] for i in np.argsort(-scores, kind="stable") if table.ids[i] not in liked + disliked]
    assert [h.id for h in hits] == order[:15]
    assert np.allclose([h.score for h in hits], [scores[table.ids.index(h.id)] for h in hits], atol=1e-5)


def test_liked_topic_dominates_and_disliked_topic_sinks(col):
    liked = ids_of(col, "exchange_rate")[:4]
    hits = col.recommend(liked, k=10)
    assert Counter(h.metadata["category"] for h in hits)["exchange_rate"] >= 8
    mixed = ids_of(col, "atm_support")[:3] + ids_of(col, "pending_cash_withdrawal")[:3]
    plain = Counter(h.metadata["category"] for h in col.recommend(mixed, k=20))
    away = Counter(h.metadata["category"] for h in col.recommend(mixed, ids_of(col, "pending_cash_withdrawal")[3:6],
                                                                 k=20, disliked_weight=1.0))
    assert away["pending_cash_withdrawal"] < plain["pending_cash_withdrawal"]
    assert away["atm_support"] > plain["atm_support"]


def test_never_returns_liked_disliked_or_excluded_ids(col):
    """A property over 60 random draws: sizes, k, mmr and a where slice all vary."""
    all_ids = col.table().ids
    rng = np.random.default_rng(7)
    for _ in range(60):
        picked = rng.choice(all_ids, int(rng.integers(2, 40)), replace=False).tolist()
        n_liked = int(rng.integers(1, len(picked)))
        n_disliked = int(rng.integers(0, len(picked) - n_liked + 1))
        liked, disliked, excluded = picked[:n_liked], picked[n_liked:n_liked + n_disliked], \
            picked[n_liked + n_disliked:]
        k = int(rng.integers(1, 30))
        mmr = [None, 0.3, 0.7, 1.0][int(rng.integers(4))]
        where = None if rng.random() < 0.5 else {"category": {"$in": list(CATEGORIES[:5])}}
        hits = col.recommend(liked, disliked, k, exclude=excluded, mmr=mmr, where=where)
        got = [h.id for h in hits]
        assert len(got) == k and len(set(got)) == k
        assert not set(got) & set(picked), (liked, disliked, excluded, got)
        if where is not None:
            assert all(h.metadata["category"] in CATEGORIES[:5] for h in hits)


def test_exclusions_deeper_than_k_still_fill_the_list(col):
    first = [h.id for h in col.recommend(["q0"], k=60)]
    hits = col.recommend(["q0"], k=10, exclude=first[:50])
    assert [h.id for h in hits] == first[50:60]


def test_include_seen_lets_the_liked_document_lead(col):
    assert col.recommend(["q5"], k=3, exclude_seen=False)[0].id == "q5"
    assert "q5" not in [h.id for h in col.recommend(["q5"], k=3)]


def test_mmr_diversifies_among_the_same_candidates(col):
    liked = ids_of(col, "change_pin")[:2]
    plain = col.recommend(liked, k=10)
    diverse = col.recommend(liked, k=10, mmr=0.3)
    pool = {h.id for h in col.recommend(liked, k=40)}
    assert {h.id for h in diverse} <= pool and {h.id for h in diverse} != {h.id for h in plain}
    assert col.recommend(liked, k=10, mmr=1.0) == plain


def test_unknown_ids_in_exclude_are_fine(col):
    assert len(col.recommend(["q1"], k=5, exclude=["no-such-id"])) == 5


@pytest.mark.parametrize("args, kwargs, message", [
    (([],), {}, "^liked: give at least one document id$"),
    (("q1",), {}, "^liked: expected a list of document ids"),
    ((["q1", "nope", "gone"],), {}, "^liked: no document with id 'nope', 'gone'$"),
    ((["q1"], ["q2", "missing"]), {}, "^disliked: no document with id 'missing'$"),
    ((["q1", "q2"], ["q2"]), {}, "^disliked: 'q2' also in liked$"),
    ((["q1"],), {"k": 280}, (r"^k: must be at most 279 \(documents in the collection that are not liked, "
                             r"disliked or excluded\), got 280$")),
    ((["q1"],), {"k": 41, "where": {"category": "atm_support"}}, r"^k: must be at most 40 \(.*matching where"),
    ((["q1"],), {"k": 0}, "^k: must be an integer from 1"),
    ((["q1"],), {"mmr": 1.5}, "^mmr: must be a number from 0 to 1"),
    ((["q1"],), {"disliked_weight": -1}, "^disliked_weight: must be a finite number"),
    ((["q1"],), {"where": {"genre": "news"}}, "^where: .*matches no documents.*no document has the field 'genre'$"),
    ((["q1"],), {"where": {"category": "x"}}, r'^where: \{"category": "x"\} matches no documents in the collection$'),
])
def test_bad_input_names_the_field(col, args, kwargs, message):
    before = col.info()
    with pytest.raises(EmbkitError, match=message):
        col.recommend(*args, **kwargs)
    after = col.info()
    assert (after["count"], after["generation"]) == (before["count"], before["generation"])


def test_a_profile_that_cancels_out_is_an_error(tmp_path):
    with embkit.create(tmp_path / "c", model=None, dim=2, metric="dot") as c:
        c.add(ids=["a", "b", "c"], vectors=np.array([[1, 0], [1, 0], [0, 1]], np.float32))
        with pytest.raises(EmbkitError, match="^disliked: the disliked documents cancel the liked ones out"):
            c.recommend(["a"], ["b"], k=1, disliked_weight=1.0)
