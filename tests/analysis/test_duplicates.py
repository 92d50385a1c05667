"""Near-duplicates on real STS-B sentences with MiniLM: planted copies with small
edits are all grouped, and the groups found through the index equal the connected
components of every pair above the threshold computed by brute force."""

import numpy as np
import pytest

import embkit
from embkit.errors import EmbkitError

THRESHOLD = 0.95
PLANTED_THRESHOLD = 0.9  # a typo moves a 14-word sentence to cosine 0.915 with MiniLM


def typo(s: str) -> str:
    """Swap two letters in the middle of the longest word."""
    words = s.split()
    i = max(range(len(words)), key=lambda j: len(words[j]))
    w, m = words[i], len(words[i]) // 2
    words[i] = w[:m - 1] + w[m] + w[m - 1] + w[m + 1:]
    return " ".join(words)


def article(s: str) -> str:
    """Swap the first article (a <-> the), or add a word at the end."""
    words = s.split()
    for i, w in enumerate(words):
        if w in ("a", "the"):
            words[i] = "the" if w == "a" else "a"
            return " ".join(words)
    return s.rstrip(".") + " too."


EDITS = (typo, str.upper, lambda s: s.rstrip(".!?") + "!", article, lambda s: "  " + s.lower() + " ")


@pytest.fixture(scope="module")
def corpus(stsb_sentences):
    """500 distinct STS-B sentences; 20 long ones get an edited copy; one sentence
    gets 11 variants (a group much larger than k)."""
    unique = list(dict.fromkeys(stsb_sentences))
    rng = np.random.default_rng(0)
    base = [unique[i] for i in rng.choice(len(unique), 500, replace=False)]
    long = [i for i, s in enumerate(base) if 14 <= len(s.split()) <= 40]
    sources = [int(i) for i in rng.choice(long, 21, replace=False)]
    big, sources = sources[0], sources[1:]
    copies = {f"copy{n}": (f"s{i}", EDITS[n % len(EDITS)](base[i])) for n, i in enumerate(sources)}
    s = base[big]
    variants = [s.upper(), s.lower(), s + "!", s + " ", s.rstrip(".") + "?", "  " + s, s.replace(" ", "  "),
                s.upper() + "!", s.lower().rstrip("."), s + " !", s.title()]
    texts = base + [t for _, t in copies.values()] + variants
    ids = [f"s{i}" for i in range(len(base))] + list(copies) + [f"var{j}" for j in range(len(variants))]
    metas = [{"part": "even" if n % 2 == 0 else "odd"} for n in range(len(texts))]
    return ids, texts, metas, copies, f"s{big}"


@pytest.fixture(scope="module")
def vectors(minilm, corpus):
    return minilm.encode(corpus[1])


@pytest.fixture
def col(tmp_path, corpus, vectors):
    """A fresh collection per test (some delete), from the MiniLM vectors embedded once."""
    ids, texts, metas, _, _ = corpus
    c = embkit.create(tmp_path / "c", model="minilm")
    c.add(texts, ids=ids, metadatas=metas, vectors=vectors)
    yield c
    c.close()


def brute_force_groups(ids: list[str], vectors: np.ndarray, threshold: float) -> list[set[str]]:
    """Connected components of all pairs with cosine ≥ threshold, from the full matrix."""
    from scipy.sparse.csgraph import connected_components

    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -1.0)
    near = np.abs(sims - threshold) < 1e-5
    assert not near.any(), "a pair sits on the threshold: float rounding could decide it"
    _, labels = connected_components(sims >= threshold, directed=False)
    groups = [{ids[i] for i in np.flatnonzero(labels == label)} for label in np.unique(labels)]
    return [g for g in groups if len(g) > 1]


def test_planted_copies_are_all_found(col, corpus, vectors):
    ids, _, _, copies, big = corpus
    position = {i: n for n, i in enumerate(ids)}
    for copy, (source, _) in copies.items():  # the edits keep them near-duplicates by the model
        assert vectors[position[copy]] @ vectors[position[source]] >= PLANTED_THRESHOLD, copy
    group_of = {i: n for n, g in enumerate(col.duplicates(PLANTED_THRESHOLD)) for i in g.ids}
    assert all(group_of.get(copy) == group_of.get(source) is not None for copy, (source, _) in copies.items())
    assert {big, *(f"var{j}" for j in range(11))} <= {i for i, n in group_of.items() if n == group_of[big]}


@pytest.mark.parametrize("threshold, k", [(THRESHOLD, 10), (THRESHOLD, 2), (0.9, 3), (0.98, 1)])
def test_groups_equal_the_brute_force_components(col, corpus, vectors, threshold, k):
    """k below the largest group's size exercises the widening: groups stay complete."""
    groups = col.duplicates(threshold, k=k)
    expected = brute_force_groups(corpus[0], vectors, threshold)
    assert sorted(map(sorted, (g.ids for g in groups))) == sorted(map(sorted, expected))
    assert max(len(g.ids) for g in groups) > k + 1
    sizes = [len(g.ids) for g in groups]
    assert sizes == sorted(sizes, reverse=True)
    for g in groups:
        assert min(s for _, _, s in g.pairs) >= threshold
        assert all(a in g.ids and b in g.ids for a, b, _ in g.pairs)


def test_group_members_are_in_insertion_order_and_groups_tie_break_on_it(col):
    table = col.table()
    rowid = dict(zip(table.ids, table.rowids.tolist()))
    groups = col.duplicates(THRESHOLD)
    for g in groups:
        assert [rowid[i] for i in g.ids] == sorted(rowid[i] for i in g.ids)
        assert g.texts == [t for i, t in zip(table.ids, table.texts) if i in set(g.ids)]
    keys = [(-len(g.ids), rowid[g.ids[0]]) for g in groups]
    assert keys == sorted(keys)


def test_where_restricts_pairs_to_the_slice(col, corpus, vectors):
    ids, _, metas, _, _ = corpus
    keep = [n for n, m in enumerate(metas) if m["part"] == "even"]
    groups = col.duplicates(THRESHOLD, where={"part": "even"})
    expected = brute_force_groups([ids[n] for n in keep], vectors[keep], THRESHOLD)
    assert sorted(map(sorted, (g.ids for g in groups))) == sorted(map(sorted, expected))


def test_dedupe_is_a_dry_run_by_default(col):
    before = col.info()
    report = col.dedupe(THRESHOLD)
    after = col.info()
    assert (after["count"], after["generation"]) == (before["count"], before["generation"])
    assert report.deleted == 0
    assert report.keep == [g.ids[0] for g in report.groups]
    assert sorted(report.delete) == sorted(i for g in report.groups for i in g.ids[1:])


def test_dedupe_keep_longest_breaks_ties_by_insertion(col):
    report = col.dedupe(THRESHOLD, keep="longest")
    for group, kept in zip(report.groups, report.keep):
        lengths = [len(t) for t in group.texts]
        assert kept == group.ids[lengths.index(max(lengths))]
    assert set(report.keep).isdisjoint(report.delete)
    assert len(report.keep) + len(report.delete) == sum(len(g.ids) for g in report.groups)


def test_dedupe_delete_removes_all_but_one_per_group_in_one_transaction(col):
    count, generation = col.count(), col.info()["generation"]
    report = col.dedupe(THRESHOLD, keep="longest", delete=True)
    assert report.deleted == len(report.delete) > 20
    assert col.count() == count - report.deleted
    assert col.info()["generation"] == generation + 1  # one write
    assert col.get(report.delete) == [] and len(col.get(report.keep)) == len(report.keep)
    assert col.duplicates(THRESHOLD) == []


def test_unit_vectors_in_l2_and_dot_collections_give_the_same_groups(tmp_path, col):
    table = col.table()
    expected = [g.ids for g in col.duplicates(THRESHOLD)]
    for metric in ("l2", "dot"):
        with embkit.create(tmp_path / metric, model=None, dim=384, metric=metric) as c:
            c.add(ids=table.ids, vectors=table.vectors)
            assert [g.ids for g in c.duplicates(THRESHOLD)] == expected


def test_vectors_of_other_lengths_are_refused_for_l2(tmp_path):
    with embkit.create(tmp_path / "c", model=None, dim=3, metric="l2") as c:
        c.add(ids=["a", "b"], vectors=np.array([[1, 0, 0], [0, 5, 0]], np.float32))
        with pytest.raises(EmbkitError, match="^threshold: a cosine threshold needs unit vectors"):
            c.duplicates(0.9)


@pytest.mark.parametrize("kwargs, message", [
    ({"threshold": 1.5}, "^threshold: must be a cosine similarity from -1 to 1, got 1.5$"),
    ({"threshold": -1.01}, "^threshold: must be a cosine similarity from -1 to 1"),
    ({"threshold": "0.9"}, "^threshold: must be a cosine similarity from -1 to 1, got '0.9'$"),
    ({"threshold": float("nan")}, "^threshold: "),
    ({"keep": "shortest"}, "^keep: must be one of first, longest, got 'shortest'$"),
    ({"k": 0}, "^k: must be a positive integer"),
    ({"where": {"lang": "fr"}}, "^where: .*matches no documents.*no document has the field 'lang'$"),
    ({"where": {"part": "none"}}, "^where: .*matches no documents in the collection$"),
])
def test_bad_input_names_the_field_and_deletes_nothing(col, kwargs, message):
    before = col.info()
    with pytest.raises(EmbkitError, match=message):
        col.dedupe(**{"threshold": THRESHOLD, "delete": True, **kwargs})
    after = col.info()
    assert (after["count"], after["generation"]) == (before["count"], before["generation"])


def test_threshold_one_finds_exact_copies_despite_rounding(tmp_path):
    rng = np.random.default_rng(4)
    vectors = rng.normal(size=(50, 384)).astype(np.float32)
    vectors[[7, 30, 44]] = vectors[21]  # the index scores v21 · v21 as 0.99999988
    with embkit.create(tmp_path / "c", model=None, dim=384) as c:
        c.add(ids=[f"v{i}" for i in range(50)], vectors=vectors)
        assert [g.ids for g in c.duplicates(1.0)] == [["v7", "v21", "v30", "v44"]]


def test_dedupe_that_deletes_nothing_waits_for_no_writer(tmp_path):
    """A server's dedupe with delete=True and no duplicates took the write lock anyway,
    queueing behind (and holding up) the collection's writers to delete nothing."""
    from contextlib import contextmanager

    taken = []

    @contextmanager
    def writing():
        taken.append("write lock")
        yield

    with embkit.create(tmp_path / "c", model=None, dim=3) as c:
        c.add(ids=["a", "b"], vectors=[[1, 0, 0], [0, 1, 0]])
        report = c.dedupe(THRESHOLD, delete=True, writing=writing)
        assert (report.groups, report.deleted, taken) == ([], 0, [])
        c.add(ids=["a2"], vectors=[[1, 0, 0]])
        assert c.dedupe(THRESHOLD, delete=True, writing=writing).delete == ["a2"] and taken == ["write lock"]
