"""One contract every index backend keeps (in the style of txtai's testann base):
add under arbitrary row ids, find, save/load, remove, pad, filter, metrics, per-query
parameters, and the spec strings that name them. Seeded random unit vectors, 64-d.
pgvector keeps the same contract (`pgvector-KIND`, a real PostgreSQL; see pg_index.py)
wherever it builds the kind: flat (exact scans), hnsw and ivf."""

import threading

import faiss
import numpy as np
import pytest

import embkit
from embkit import EmbkitError
from embkit.index import BACKENDS, make_index, parse_spec, persist
from embkit.index.spec import PARAMS
from embkit.search.dense import dense_search

from pg_index import PgContractIndex

DIM = 64
N = 10_000
SPECS = {
    "flat": "flat",
    "hnsw": "hnsw:M=16,efc=100,ef=64",
    "ivf": "ivf:nlist=64,nprobe=64",  # nprobe = nlist: every list visited, exact
    "ivfpq": "ivfpq:nlist=32,m=16,nbits=8,nprobe=32",
    "sq8": "sq8",
    "binary": "binary",
}
EXACT = {"flat", "hnsw", "ivf"}  # float32 vectors: the nearest neighbour is found as is
QUANTIZED = {"ivfpq", "sq8", "binary"}  # found through dense_search with rescoring
EXHAUSTIVE = {"flat", "sq8", "binary", "ivf"}  # a filtered search is exact w.r.t. the index's scores
PG_SPECS = {"pgvector-flat": "flat", "pgvector-hnsw": SPECS["hnsw"], "pgvector-ivf": SPECS["ivf"]}
kinds = pytest.mark.parametrize("kind", list(SPECS) + list(PG_SPECS))


def plain(kind: str) -> str:
    """The index kind a contract parameter names (`pgvector-hnsw` is an hnsw index)."""
    return kind.removeprefix("pgvector-")


_SERVER: list = []  # the session's PostgreSQL, once a pgvector test asked for it
_OPENED: list = []  # pgvector indexes made here, their stores closed at the end


@pytest.fixture(autouse=True)
def postgres_for_pgvector(request):
    """The server for a pgvector test; its connections closed after it (those of the
    shared, built-once indexes at the end of the module)."""
    callspec = getattr(request.node, "callspec", None)
    kind = callspec.params.get("kind") if callspec else None
    if kind in PG_SPECS and not _SERVER:
        _SERVER.append(request.getfixturevalue("pg_server"))
    yield
    for index in [i for i in _OPENED if all(i is not b for b in _BUILT.values())]:
        index.close()
        _OPENED.remove(index)


@pytest.fixture(scope="module", autouse=True)
def close_pgvector_stores():
    yield
    for index in _OPENED:
        index.close()


@pytest.fixture(scope="module", autouse=True)
def one_faiss_thread():
    """Single-threaded FAISS: HNSW builds are then deterministic, and these small
    workloads run several times faster than with OpenMP threads on a busy machine."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


def test_every_backend_is_covered():
    assert set(SPECS) == set(BACKENDS) == set(PARAMS)


# ---- data and helpers ---------------------------------------------------------------------

def unit(rng, n, dim=DIM):
    x = rng.normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def perturb(rng, x, scale=0.1):
    """Unit vectors near `x` (noise of norm ~scale)."""
    noisy = x + rng.normal(size=x.shape).astype(np.float32) * scale / np.sqrt(x.shape[1])
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


VECTORS = unit(np.random.default_rng(0), N)
IDS = 1000 + 3 * np.arange(N, dtype=np.int64)  # non-contiguous, not starting at 0


class Store:
    """The float32 vectors by row id, as dense_search's `fetch` wants them."""

    def __init__(self, ids, vectors):
        self.vectors = {int(i): v for i, v in zip(ids, vectors)}

    def add(self, ids, vectors):
        self.vectors.update((int(i), v) for i, v in zip(ids, vectors))

    def remove(self, ids):
        for i in ids:
            self.vectors.pop(int(i), None)

    def __call__(self, rowids):
        found = np.array([r for r in np.asarray(rowids).tolist() if r in self.vectors], dtype=np.int64)
        matrix = np.stack([self.vectors[r] for r in found.tolist()]) if len(found) else np.empty((0, DIM), np.float32)
        return found, matrix.astype(np.float32)


def empty(kind, metric="cosine"):
    """A new, empty index of a contract parameter."""
    if kind in PG_SPECS:
        index = PgContractIndex(_SERVER[0], PG_SPECS[kind], DIM, metric)
        _OPENED.append(index)
        return index
    return make_index(SPECS[kind], DIM, metric)


def build(kind, ids=IDS, vectors=VECTORS, metric="cosine"):
    index = empty(kind, metric)
    index.add(ids, vectors)
    return index


def saved_and_loaded(index, kind, folder):
    """The index as another process finds it: FAISS's saved and loaded from `folder`,
    pgvector's by a new connection to the same collection."""
    if kind in PG_SPECS:
        loaded = index.reopened()
        _OPENED.append(loaded)
        return loaded
    persist.save(index, folder, 1, "text")
    return persist.load(folder, persist.read_manifest(folder))


_BUILT: dict[str, object] = {}


@pytest.fixture
def built(kind):
    """The 10k-vector index of this kind, built once per module. Read-only: tests that
    change an index build their own."""
    if kind not in _BUILT:
        _BUILT[kind] = build(kind)
    return _BUILT[kind]


def top1(index, kind, store, queries):
    """Top-1 row id per query: the index alone for exact kinds, dense_search with
    rescoring (default factor) for quantized ones."""
    if kind in QUANTIZED:
        return np.array([dense_search(index, q, 1, store)[0][0] for q in queries])
    return index.search(queries, 1)[0][:, 0]


def assert_well_formed(rowids, scores, k, nq):
    """Shapes, padding and order every search result keeps."""
    assert rowids.shape == scores.shape == (nq, k)
    assert rowids.dtype == np.int64
    missing = rowids == -1
    assert np.all(np.isneginf(scores[missing])) and np.all(np.isfinite(scores[~missing]))
    for row_ids, row_scores, row_missing in zip(rowids, scores, missing):
        n = int((~row_missing).sum())
        assert not row_missing[:n].any(), "padding must come after every result"
        assert len(set(row_ids[:n].tolist())) == n, "an id returned twice"
        assert np.all(np.diff(row_scores[:n]) <= 1e-6), "scores must be best first"


# ---- add and find ---------------------------------------------------------------------------

@kinds
def test_nearest_neighbour_of_a_stored_vector_is_itself(kind, built):
    rng = np.random.default_rng(1)
    probes = rng.choice(N, 100, replace=False)
    queries = perturb(rng, VECTORS[probes])
    assert built.ntotal == N and built.dead == 0 and built.nbytes > 0
    rowids, scores = built.search(queries, 10)
    assert_well_formed(rowids, scores, 10, 100)
    assert np.isin(rowids, IDS).all()
    raw = float(np.mean(rowids[:, 0] == IDS[probes]))
    assert raw >= 0.9, f"{kind}: top-1 is the probe's own id for {raw:.2f} of probes"
    found = float(np.mean(top1(built, kind, Store(IDS, VECTORS), queries) == IDS[probes]))
    assert found >= 0.99, f"{kind}: top-1 (rescored for quantized kinds) is the probe's own id for {found:.2f}"
    # a single query may be 1-d; cosine scores of a near-duplicate are close to 1
    one_ids, one_scores = built.search(queries[0], 1)
    assert one_ids.shape == (1, 1) and one_scores[0, 0] > 0.9


@kinds
def test_save_and_load_give_identical_results(kind, built, tmp_path):
    rng = np.random.default_rng(2)
    queries = perturb(rng, VECTORS[rng.choice(N, 30, replace=False)], scale=1.0)
    before = built.search(queries, 20)
    if kind in PG_SPECS:  # PostgreSQL holds it: a new connection to the same collection
        loaded = saved_and_loaded(built, kind, tmp_path / "ix")
    else:
        manifest = persist.save(built, tmp_path / "ix", generation=7, space="text")
        assert persist.read_manifest(tmp_path / "ix") == manifest
        assert manifest["generation"] == 7 and manifest["count"] == N and manifest["kind"] == kind
        loaded = persist.load(tmp_path / "ix", persist.read_manifest(tmp_path / "ix"))
        assert type(loaded) is type(built)
    assert (loaded.ntotal, loaded.dead, loaded.dim, loaded.metric) == (N, 0, DIM, "cosine")
    assert loaded.effective_spec == built.effective_spec and loaded.params == built.params
    after = loaded.search(queries, 20)
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[1], before[1])


# ---- remove ---------------------------------------------------------------------------------

@kinds
def test_removed_ids_never_come_back_and_new_ones_are_found(kind, tmp_path):
    index = build(kind)
    store = Store(IDS, VECTORS)
    rng = np.random.default_rng(3)
    new_ids = 200_000 + 7 * np.arange(500, dtype=np.int64)
    new_vectors = unit(rng, 500)
    index.add(new_ids, new_vectors)
    store.add(new_ids, new_vectors)
    assert index.ntotal == N + 500
    gone = np.concatenate([IDS[::7], new_ids[::5]])  # 1429 old and 100 new
    assert index.remove(gone) == len(gone)
    store.remove(gone)
    assert index.remove(gone) == 0 and index.remove([5, 6, 7]) == 0  # again, and ids never added
    # FAISS hides removed entries until compaction; PostgreSQL deletes the rows (VACUUM reclaims them)
    assert index.ntotal == N + 500 - len(gone) and index.dead == (0 if kind in PG_SPECS else len(gone))

    every = np.concatenate([VECTORS, new_vectors])
    all_ids = np.concatenate([IDS, new_ids])
    gone_set = set(gone.tolist())
    removed_rows = np.flatnonzero(np.isin(all_ids, gone))
    probes = np.concatenate([removed_rows[-100:], rng.choice(removed_rows[:-100], 200, replace=False)])
    rowids, scores = index.search(every[probes], 50)  # their own vectors: the strongest temptation
    assert_well_formed(rowids, scores, 50, len(probes))
    assert not gone_set & set(rowids.ravel().tolist()), f"{kind}: a removed id came back"
    assert (rowids >= 0).all(), "plenty of live entries remain: no padding expected"
    for q in every[probes[:20]]:
        hits = dense_search(index, q, 10, store)[0]
        assert len(hits) == 10 and not gone_set & set(hits.tolist())

    kept = np.setdiff1d(new_ids, gone)
    kept_vectors = new_vectors[np.isin(new_ids, kept)]
    queries = perturb(rng, kept_vectors)
    raw = float(np.mean(index.search(queries, 1)[0][:, 0] == kept))
    found = float(np.mean(top1(index, kind, store, queries) == kept))
    assert raw >= 0.9 and found >= 0.99, f"{kind}: new ids found raw {raw:.3f}, in the contract {found:.3f}"

    # an upsert is a remove plus an add under the same row id: only the new vector counts
    target, fresh = int(kept[0]), unit(rng, 1)
    index.remove([target])
    index.add([target], fresh)
    assert index.search(fresh, 1)[0][0, 0] == target
    assert target not in index.search(kept_vectors[:1], 50)[0][0]
    assert index.ntotal == N + 500 - len(gone)

    # removals survive a save and load
    loaded = saved_and_loaded(index, kind, tmp_path / "ix")
    assert (loaded.ntotal, loaded.dead) == (index.ntotal, index.dead)
    again = loaded.search(every[probes], 50)[0]
    assert not gone_set & set(again.ravel().tolist())
    before = index.search(every[probes], 50)[0]
    if kind in PG_SPECS:  # autovacuum may clean the deleted rows out of the graph between two searches,
        same = np.mean([len(set(a) & set(b)) / 50 for a, b in zip(again.tolist(), before.tolist())])
        assert same >= 0.95, f"{kind}: the reopened collection finds other rows ({same:.3f} overlap)"
    else:  # which moves HNSW's approximate answer a little; a FAISS index is the same bytes
        np.testing.assert_array_equal(again, before)


# ---- more than there is, nothing at all, wrong shapes -------------------------------------------

@kinds
def test_k_beyond_ntotal_returns_every_live_id_once_then_padding(kind):
    index = empty(kind)
    index.train_on(VECTORS[:2000])  # ivf/ivfpq/sq8 learn from a big sample; 20 entries stored
    small_ids = 50 + 11 * np.arange(20, dtype=np.int64)
    small = unit(np.random.default_rng(4), 20)
    index.add(small_ids, small)
    assert index.ntotal == 20
    queries = perturb(np.random.default_rng(5), small[:5], scale=1.0)
    rowids, scores = index.search(queries, 50)
    assert_well_formed(rowids, scores, 50, 5)
    for row in rowids:
        assert sorted(row[:20].tolist()) == sorted(small_ids.tolist())
        assert (row[20:] == -1).all()
    index.remove(small_ids[:5])
    rowids, scores = index.search(queries, 50)
    assert_well_formed(rowids, scores, 50, 5)
    for row in rowids:
        assert sorted(row[:15].tolist()) == sorted(small_ids[5:].tolist()) and (row[15:] == -1).all()


@kinds
def test_small_first_add_trains_or_says_why(kind):
    """The first add trains the index; ivfpq with nbits=8 needs 256 vectors and says so."""
    index = empty(kind)
    if kind == "ivfpq":
        with pytest.raises(EmbkitError, match="256"):
            index.add(np.arange(20), VECTORS[:20])
        return
    index.add(np.arange(20) * 2, VECTORS[:20])
    rowids, _ = index.search(VECTORS[:3], 25)
    assert (rowids[:, :20] >= 0).all() and (rowids[:, 20:] == -1).all()
    assert list(rowids[:, 0]) == [0, 2, 4]


@kinds
def test_empty_index_returns_padding(kind):
    index = empty(kind)
    assert (index.ntotal, index.dead, index.nbytes) == (0, 0, 0)
    assert index.remove([1, 2]) == 0
    rowids, scores = index.search(VECTORS[:3], 5)
    assert_well_formed(rowids, scores, 5, 3)
    assert (rowids == -1).all() and np.isneginf(scores).all()
    index.add(np.empty(0, np.int64), np.empty((0, DIM), np.float32))  # adding nothing is fine
    assert (index.search(VECTORS[:1], 5)[0] == -1).all()
    # everything removed: empty again
    count = 300 if kind == "ivfpq" else 2
    index.add(IDS[:count], VECTORS[:count])
    index.remove(IDS[:count])
    assert index.ntotal == 0
    rowids, scores = index.search(VECTORS[:2], 4)
    assert (rowids == -1).all() and np.isneginf(scores).all()


@kinds
def test_wrong_dimension_is_refused(kind, built):
    new = empty(kind)
    for index in (new, built):
        with pytest.raises(EmbkitError, match=r"dimension 32 .*64"):
            index.search(np.ones((2, 32), np.float32), 3)
        with pytest.raises(EmbkitError, match=r"dimension 32 .*64"):
            index.search(np.ones(32, np.float32), 3)
    if kind not in PG_SPECS:  # pgvector's rows come through the store, whose writes check dimensions
        with pytest.raises(EmbkitError, match=r"dimension 32 .*64"):
            new.add([1, 2], np.ones((2, 32), np.float32))
        with pytest.raises(EmbkitError, match=r"dimension 80 .*64"):
            make_index(SPECS[kind], DIM, "cosine").add(IDS[:300], np.ones((300, 80), np.float32))
        with pytest.raises(EmbkitError, match="ids"):
            new.add([1, 2, 3], VECTORS[:2])
    assert new.ntotal == 0 and built.ntotal == N  # nothing changed


def test_binary_needs_a_dimension_divisible_by_8():
    with pytest.raises(EmbkitError, match="60"):
        make_index("binary", 60, "cosine")


# ---- filters --------------------------------------------------------------------------------

def reference_scores(kind, queries):
    """(n_queries, N) scores of every stored vector in IDS order, as the index scores
    them, computed in numpy: float32 inner products for flat/ivf, Hamming-derived for
    binary, and for sq8 inner products with the 8-bit reconstruction of each vector."""
    if kind in ("flat", "ivf"):
        return queries @ VECTORS.T
    if kind == "binary":
        qbits, xbits = queries > 0, VECTORS > 0
        hamming = (qbits[:, None, :] != xbits[None, :, :]).sum(-1)
        return np.cos(np.pi * hamming / DIM)
    return queries @ sq8_reconstruction(VECTORS).T


def sq8_reconstruction(vectors):
    """FAISS's QT_8bit by hand: per-dimension min..max range learned from all the vectors
    (the index trains on its first add), code = floor(255 * position in the range),
    decoded at the middle of its step. Matches the index's scores to ~3e-7; the exact
    float32 scores differ from them by up to ~4e-3, far outside the 1e-5 checked."""
    low, span = vectors.min(axis=0), vectors.max(axis=0) - vectors.min(axis=0)
    codes = np.floor(np.clip((vectors - low) / span, 0, 1) * 255)
    return (low + (codes + 0.5) / 255 * span).astype(np.float32)


@kinds
def test_allow_restricts_results(kind, built):
    rng = np.random.default_rng(6)
    allow = np.sort(rng.choice(IDS, int(0.3 * N), replace=False))
    allowed = np.isin(IDS, allow)
    queries = perturb(rng, VECTORS[rng.choice(N, 20, replace=False)], scale=1.0)
    k = 10
    rowids, scores = built.search(queries, k, allow=allow)
    assert_well_formed(rowids, scores, k, 20)
    assert np.isin(rowids, allow).all(), f"{kind}: returned an id outside the allowed set"
    if plain(kind) in EXHAUSTIVE:
        reference = reference_scores(plain(kind), queries)
        for i in range(20):
            best = np.sort(reference[i][allowed])[::-1][:k]  # filtered brute force
            np.testing.assert_allclose(scores[i], best, atol=1e-5)
            # each returned id really has the score reported (robust to ties)
            np.testing.assert_allclose(reference[i][(rowids[i] - 1000) // 3], scores[i], atol=1e-5)
    else:
        assert (rowids >= 0).mean() > 0.9
    # the filter is per call: the next unfiltered search is unrestricted
    assert not np.isin(built.search(queries, k)[0], allow).all()
    empty_ids, empty_scores = built.search(queries[:2], 5, allow=np.array([], np.int64))
    assert (empty_ids == -1).all() and np.isneginf(empty_scores).all()
    few = IDS[[10, 20, 30]]
    few_ids = built.search(VECTORS[[10]], 5, allow=np.concatenate([few, [1, 2, 99_999_999]]))[0][0]
    if plain(kind) in EXHAUSTIVE:
        assert few_ids[0] == few[0] and sorted(few_ids[:3].tolist()) == sorted(few.tolist())
        assert (few_ids[3:] == -1).all()
    else:
        assert set(few_ids[few_ids >= 0].tolist()) <= set(few.tolist())


@kinds
def test_allow_and_removed_combine(kind):
    index = build(kind, IDS[:3000], VECTORS[:3000])
    index.remove(IDS[:3000:2])
    allow = IDS[:3000:3]  # half of these are removed
    rowids = index.search(VECTORS[:50], 20, allow=allow)[0]
    assert np.isin(rowids[rowids >= 0], IDS[1:3000:2]).all() and np.isin(rowids[rowids >= 0], allow).all()
    # dense_search keeps the filter too (exactly, through fetch, for small filters)
    store = Store(IDS[1:3000:2], VECTORS[1:3000:2])
    for q in VECTORS[:10]:
        hits = dense_search(index, q, 10, store, allow=allow)[0]
        assert len(hits) == 10 and np.isin(hits, allow).all() and np.isin(hits, IDS[1:3000:2]).all()


@pytest.mark.parametrize("kind", ["flat", "pgvector-flat"])
def test_concurrent_filtered_searches_keep_their_own_filter(kind, built):
    """Two threads, one index, different filters (even vs odd positions): each must only
    ever see its own allowed ids. FAISS releases the GIL while it searches."""
    wrong: list = []
    stop = threading.Event()

    def worker(parity):
        allow = IDS[parity::2]
        for i in range(1000):  # before the fix, a stray id showed within ~5-100 searches
            if stop.is_set():
                return
            rowids = built.search(VECTORS[i:i + 4], 10, allow=allow)[0]
            if not np.isin(rowids, allow).all():
                wrong.append((parity, rowids))
                stop.set()

    threads = [threading.Thread(target=worker, args=(p,)) for p in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong, f"a search returned ids outside its allow set: {wrong[0]}"


# ---- metrics --------------------------------------------------------------------------------

@pytest.mark.parametrize("metric", ["dot", "l2", "hamming"])
def test_binary_supports_only_cosine(metric):
    with pytest.raises(EmbkitError, match=metric):
        make_index("binary", DIM, metric)


@pytest.mark.parametrize("kind", [k for k in SPECS if k != "binary"])
def test_unknown_metric_is_refused(kind):
    with pytest.raises(EmbkitError, match="hamming"):
        make_index(SPECS[kind], DIM, "hamming")


def brute(queries, vectors, metric):
    if metric == "l2":
        return -np.linalg.norm(queries[:, None, :] - vectors[None, :, :], axis=-1)
    return queries @ vectors.T


@pytest.mark.parametrize("metric", ["cosine", "dot", "l2"])
@pytest.mark.parametrize("kind", [k for k in SPECS if k != "binary"] + list(PG_SPECS))
def test_metrics_follow_brute_force(kind, metric):
    """Scores are higher-is-better (l2: minus the distance) and are the metric's own
    values; top-1 matches brute force (approximate kinds: for queries near a stored
    vector, where the winner is clear; random queries in 64-d are near-ties)."""
    rng = np.random.default_rng(7)
    n = 3000
    vectors = unit(rng, n)
    if metric != "cosine":  # lengths that matter
        vectors = vectors * rng.uniform(0.5, 1.5, size=(n, 1)).astype(np.float32)
    ids = 10 + 2 * np.arange(n, dtype=np.int64)
    index = build(kind, ids, vectors, metric)
    near = vectors[rng.choice(n, 10, replace=False)] + 0.02 * rng.normal(size=(10, DIM))
    queries = np.concatenate([near, rng.normal(size=(10, DIM)) / 8]).astype(np.float32)
    if metric == "cosine":  # a cosine space's queries are unit length (the collection normalizes them)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        near = queries[:10]
    exact = brute(queries, vectors, metric)
    best = ids[np.argmax(exact, axis=1)]
    rowids, scores = index.search(queries, 5)
    assert_well_formed(rowids, scores, 5, 20)
    if metric == "l2":
        assert (scores <= 0).all()
    got = exact[np.arange(20)[:, None], (rowids - 10) // 2]  # brute-force scores of what came back
    if plain(kind) in ("flat", "ivf"):  # float32, exhaustive: exact scores and top-1 for every query
        np.testing.assert_allclose(scores, got, rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(rowids[:, 0], best)
    elif plain(kind) == "hnsw":  # float32 scores exact; the graph walk finds the clear winners
        np.testing.assert_allclose(scores, got, rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(rowids[:10, 0], best[:10])
        assert np.mean(rowids[:, 0] == best) >= 0.9
    elif kind == "sq8":  # 8-bit codes: scores close; top-1 right wherever brute force has a clear winner
        np.testing.assert_allclose(scores, got, atol=0.03)
        top2 = np.sort(exact, axis=1)[:, -2:]
        clear = top2[:, 1] - top2[:, 0] > 0.03
        assert clear.sum() >= 8  # enough queries to check
        np.testing.assert_array_equal(rowids[clear, 0], best[clear])
    else:  # ivfpq: approximate scores; the rescored top-1 is exact and exactly scored
        store = Store(ids, vectors)
        for q, winner, row in zip(near.astype(np.float32), best[:10], exact[:10]):
            hits, hit_scores = dense_search(index, q, 1, store)
            assert hits[0] == winner
            np.testing.assert_allclose(hit_scores[0], row.max(), rtol=1e-4, atol=1e-4)


# ---- per-query parameters -------------------------------------------------------------------

def recall_at(index, queries, truth, k, **params):
    rowids = index.search(queries, k, **params)[0]
    return np.mean([len(set(r.tolist()) & set(t.tolist())) / k for r, t in zip(rowids, truth)])


@pytest.fixture(scope="module")
def truth10():
    rng = np.random.default_rng(8)
    queries = unit(rng, 50)
    return queries, IDS[np.argsort(-(queries @ VECTORS.T), axis=1)[:, :10]]


@pytest.mark.parametrize("kind", ["hnsw", "pgvector-hnsw"])
def test_hnsw_ef_is_per_query(kind, built, truth10):
    queries, truth = truth10
    wide = recall_at(built, queries, truth, 10, ef=512)
    narrow = recall_at(built, queries, truth, 10, ef=10)
    assert wide >= 0.95 and narrow < wide, (narrow, wide)
    assert recall_at(built, queries, truth, 10) <= wide + 1e-9
    assert built.params["ef"] == 64  # a per-query value does not stick
    assert recall_at(built, queries, truth, 10, ef=None) == recall_at(built, queries, truth, 10)


@pytest.mark.parametrize("kind", ["ivf", "ivfpq", "pgvector-ivf"])
def test_nprobe_is_per_query(kind, built, truth10):
    queries, truth = truth10
    narrow = recall_at(built, queries, truth, 10, nprobe=1)
    wide = recall_at(built, queries, truth, 10, nprobe=built.params["nlist"])
    assert narrow < wide and narrow < 0.6, (narrow, wide)
    assert recall_at(built, queries, truth, 10) == wide  # the spec's nprobe (= nlist) is back
    assert recall_at(built, queries, truth, 10, nprobe=10_000) == wide  # more than nlist: every list


WRONG = {"flat": "ef", "hnsw": "nprobe", "ivf": "ef", "ivfpq": "ef", "sq8": "nprobe", "binary": "ef"}


@kinds
def test_a_parameter_that_does_not_belong_is_refused(kind, built):
    q = VECTORS[:1]
    wrong = WRONG[plain(kind)]
    with pytest.raises(EmbkitError, match=wrong):
        built.search(q, 5, **{wrong: 8})
    with pytest.raises(EmbkitError, match="efSearch"):
        built.search(q, 5, efSearch=8)
    with pytest.raises(EmbkitError, match=wrong):
        dense_search(built, q, 5, Store(IDS, VECTORS), **{wrong: 8})


@pytest.mark.parametrize("kind, key", [("hnsw", "ef"), ("ivf", "nprobe"), ("ivfpq", "nprobe"),
                                       ("pgvector-hnsw", "ef"), ("pgvector-ivf", "nprobe")])
@pytest.mark.parametrize("value", [0, -3, 1 << 21, "many", 2.5])
def test_out_of_range_parameter_is_refused(kind, key, value, built):
    with pytest.raises(EmbkitError, match=key):
        built.search(VECTORS[:1], 5, **{key: value})


@pytest.mark.parametrize("kind, key", [("hnsw", "ef"), ("ivf", "nprobe"), ("pgvector-hnsw", "ef"),
                                       ("pgvector-ivf", "nprobe")])
def test_parameters_are_checked_on_an_empty_index_too(kind, key):
    """A bad parameter is bad whether or not the index holds anything yet."""
    index = empty(kind)
    with pytest.raises(EmbkitError, match=key):
        index.search(VECTORS[:1], 5, **{key: 0})
    with pytest.raises(EmbkitError, match=WRONG[plain(kind)]):
        index.search(VECTORS[:1], 5, **{WRONG[plain(kind)]: 8})


@pytest.mark.parametrize("kind, key", [("hnsw", "ef"), ("ivf", "nprobe"), ("pgvector-hnsw", "ef"),
                                       ("pgvector-ivf", "nprobe")])
def test_bool_parameter_is_refused(kind, key, built):
    with pytest.raises(EmbkitError, match=key):
        built.search(VECTORS[:1], 5, **{key: True})


@pytest.mark.parametrize("backend, kind",
                         [("sqlite", k) for k in SPECS] + [("postgres", k) for k in ("flat", "hnsw", "ivf")],
                         indirect=["backend"])
def test_collection_passes_per_query_parameters(backend, kind):
    """Through the public API: the right knob works, a foreign one is refused by name
    (pgvector builds flat, hnsw and ivf)."""
    col = embkit.create(backend("c"), model=None, dim=DIM)
    col.add(ids=[f"d{i}" for i in range(2000)], vectors=VECTORS[:2000])
    col.build_index(SPECS[kind])
    own = {"hnsw": {"ef": 32}, "ivf": {"nprobe": 4}, "ivfpq": {"nprobe": 4}}.get(kind, {})
    assert col.search(vector=VECTORS[5], k=3, **own)[0].id == "d5"
    if kind in QUANTIZED:
        assert col.search(vector=VECTORS[5], k=3, rescore=8)[0].id == "d5"
    foreign = "nprobe" if kind == "hnsw" else "ef"
    with pytest.raises(EmbkitError, match=foreign):
        col.search(vector=VECTORS[5], k=3, **{foreign: 8})
    col.close()


# ---- spec strings ---------------------------------------------------------------------------

def test_spec_defaults_are_filled():
    assert parse_spec("hnsw").params == {"M": 16, "efc": 200, "ef": 128}
    assert parse_spec("ivf").params == {"nlist": 1024, "nprobe": 16}
    assert parse_spec("ivfpq:nlist=256,m=48").params == {"nlist": 256, "m": 48, "nbits": 8, "nprobe": 16}
    assert parse_spec("hnsw:ef=10").params == {"M": 16, "efc": 200, "ef": 10}
    for kind in ("flat", "sq8", "binary", "auto"):
        assert parse_spec(kind).params == {} and parse_spec(kind).kind == kind
    assert parse_spec("  HNSW : M = 16 , ef=8 ").params == {"M": 16, "efc": 200, "ef": 8}
    assert parse_spec("flat:").kind == "flat"
    assert parse_spec("sq8").quantized and parse_spec("ivfpq").quantized and not parse_spec("hnsw").quantized


@pytest.mark.parametrize("text, named", [
    ("annoy", "annoy"),
    ("annoy:trees=10", "annoy"),
    ("hnsw:foo=3", "foo"),
    ("hnsw:m=16", "'m'"),  # keys are case-sensitive: hnsw's is M
    ("flat:ef=10", "ef"),
    ("sq8:bits=4", "bits"),
    ("hnsw:M=abc", "abc"),
    ("hnsw:M=1.5", "1.5"),
    ("hnsw:M=", "M"),
    ("hnsw:M", "M"),
    ("ivf:nlist=0x10", "0x10"),
    ("hnsw:M=2", "M=2"),
    ("hnsw:M=300", "4..256"),
    ("hnsw:ef=0", "ef=0"),
    ("ivf:nprobe=0", "nprobe"),
    ("ivfpq:nbits=3", "nbits"),
    ("ivfpq:nbits=13", "nbits"),
    ("ivfpq:m=0", "m=0"),
    ("", "kinds"),
    ("   ", "kinds"),
])
def test_bad_specs_are_refused_by_name(text, named):
    with pytest.raises(EmbkitError) as caught:
        parse_spec(text)
    assert named in str(caught.value)


@pytest.mark.parametrize("value", [None, 42, ["hnsw"]])
def test_spec_must_be_a_string(value):
    with pytest.raises(EmbkitError, match="spec"):
        parse_spec(value)


@pytest.mark.parametrize("text", list(SPECS.values()) + [
    "hnsw", "ivf", "ivfpq", "auto", "hnsw:ef=10", "ivfpq:m=8,nlist=4", " IVF:nprobe=3 "])
def test_spec_round_trips(text):
    spec = parse_spec(text)
    assert parse_spec(str(spec)) == spec
    assert str(parse_spec(str(spec))) == str(spec)
    assert str(spec) == spec.kind or str(spec).startswith(spec.kind + ":")
    if spec.kind != "auto":
        assert make_index(spec, DIM, "cosine").spec == spec


def test_spec_string_lists_every_parameter_in_order():
    assert str(parse_spec("ivfpq:nprobe=4,m=8")) == "ivfpq:nlist=1024,m=8,nbits=8,nprobe=4"
    assert str(parse_spec("hnsw:ef=10")) == "hnsw:M=16,efc=200,ef=10"
    assert str(parse_spec("flat")) == "flat"


def test_effective_spec_shows_clamped_nlist():
    index = make_index("ivf:nlist=1024,nprobe=16", DIM, "cosine")
    index.add(IDS[:2000], VECTORS[:2000])
    assert index.params["nlist"] == 2000 // 39
    assert index.effective_spec == f"ivf:nlist={2000 // 39},nprobe=16"
    assert str(index.spec) == "ivf:nlist=1024,nprobe=16"
