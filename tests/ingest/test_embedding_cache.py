"""The embedding cache (issue 21, item 3): chunk vectors kept by (model fingerprint, text
sha256) in `cache/embeddings.sqlite`, bounded, and never another model's vector."""

import sqlite3

import numpy as np
import pytest

import embkit
from embkit.ingest.embedding_cache import CACHE_FILE, EmbeddingCache, counting
from embkit.ingest.model_fingerprint import model_fingerprint
from embkit.store import Space

TEXTS = ["Green tea is steeped for two minutes.", "The kettle whistles when the water boils.",
         "Porcelain cups keep the tea warm.", "Mint grows fast in the garden."]


def word_vectors(path, rows: dict[str, list[float]]) -> str:
    """A word-vector model file (GloVe's text format): a real model embkit loads by path."""
    path.write_text("".join(f"{w} {' '.join(str(x) for x in v)}\n" for w, v in rows.items()))
    return str(path)


def test_adding_a_text_again_embeds_nothing_and_gives_the_same_vector(tmp_path):
    col = embkit.create(tmp_path / "c", model="glove-50d")
    with counting() as first:
        col.add(TEXTS, ids=["a", "b", "c", "d"])
    with counting() as again:
        col.add([TEXTS[1], TEXTS[2], "A new text about oolong."], ids=["b2", "c2", "e"])
    assert (first.embedded, first.cached) == (4, 0)
    assert (again.embedded, again.cached) == (1, 2)
    got = {d.id: d.vector for d in col.get(["b", "b2", "c", "c2"], include_vectors=True)}
    assert np.array_equal(got["b"], got["b2"]) and np.array_equal(got["c"], got["c2"])
    assert (tmp_path / "c" / CACHE_FILE).is_file()
    assert col.embedding_cache.stats()["entries"] == 5
    col.close()


def fixed_points(col, ids: list[str]) -> int:
    """How many of these records' stored vectors a second write keeps bit for bit (the
    cache refers to those; it keeps the others whole)."""
    from embkit.ingest.vectors import stored_form

    stored = np.stack([d.vector for d in col.get(ids, include_vectors=True)])
    return int(np.all(stored_form(stored, col.space.metric, "v") == stored, axis=1).sum())


def test_a_text_the_store_holds_is_kept_as_a_reference_not_a_second_vector(tmp_path):
    col = embkit.create(tmp_path / "c", model="glove-50d")
    col.add(TEXTS, ids=["a", "b", "c", "d"])
    stats = col.embedding_cache.stats()
    refs = fixed_points(col, ["a", "b", "c", "d"])
    assert refs == 4 and stats["entries"] == 4 and stats["references"] == refs
    assert stats["bytes"] == refs * (1 + 16) + (4 - refs) * 50 * 4  # a one-letter id and a digest, or a vector
    with counting() as again:  # served from the store's own vectors, bit for bit
        col.add(TEXTS, ids=["a2", "b2", "c2", "d2"])
    assert (again.embedded, again.cached) == (0, 4)
    got = {d.id: d.vector for d in col.get(["a", "a2", "b", "b2", "c", "c2", "d", "d2"], include_vectors=True)}
    assert all(np.array_equal(got[i], got[i + "2"]) for i in "abcd")
    col.close()


def test_the_stored_form_of_a_stored_vector_is_the_same_bits():
    """What lets the cache refer to every stored vector: dividing a unit row by its norm
    again moved a third of them by an ulp."""
    from embkit.ingest.vectors import stored_form

    raw = np.random.default_rng(5).standard_normal((2000, 384)).astype(np.float32)
    once = stored_form(raw, "cosine", "v")
    assert np.array_equal(stored_form(once, "cosine", "v"), once)
    assert np.allclose(np.linalg.norm(once, axis=1), 1, atol=2e-7)
    mixed = np.vstack([once[:3], raw[3:6]])  # unit rows kept, the others scaled
    assert np.array_equal(stored_form(mixed, "cosine", "v"), once[:6])


def test_a_reference_never_serves_a_vector_the_record_no_longer_holds(tmp_path):
    """The record a reference names was given another vector for the same text, then
    deleted: the text is embedded again each time, never served the other vector."""
    col = embkit.create(tmp_path / "c", model="glove-50d")
    col.add([TEXTS[0]], ids=["a"])
    assert col.embedding_cache.stats()["references"] == fixed_points(col, ["a"]) == 1
    model = col.get(["a"], include_vectors=True)[0].vector
    other = np.ones((1, 50), dtype=np.float32)
    col.upsert([TEXTS[0]], ids=["a"], vectors=other)  # the same text, a vector the model did not make
    with counting() as counts:
        col.add([TEXTS[0]], ids=["b"])
    assert counts.embedded == 1 and np.array_equal(col.get(["b"], include_vectors=True)[0].vector, model)
    col.delete(["b"])
    with counting() as counts:  # the record it referred to is gone: embedded again
        col.add([TEXTS[0]], ids=["c"])
    assert counts.embedded == 1 and np.array_equal(col.get(["c"], include_vectors=True)[0].vector, model)
    assert col.embedding_cache.stats()["entries"] == 1
    col.close()


def test_a_reference_follows_its_text_to_the_record_now_holding_it(tmp_path):
    """One upsert moves a text from `a` to `b` and gives `a` another: the reference now
    names `b`, so the text is still served."""
    col = embkit.create(tmp_path / "c", model="glove-50d")
    col.add([TEXTS[0]], ids=["a"])
    with counting() as counts:
        col.upsert([TEXTS[1], TEXTS[0]], ids=["a", "b"])
    assert (counts.embedded, counts.cached) == (1, 1)
    with counting() as counts:
        col.add([TEXTS[0]], ids=["c"])
    assert (counts.embedded, counts.cached) == (0, 1)
    col.close()


def test_a_cache_file_of_the_first_version_is_started_afresh_keeping_its_bound(tmp_path):
    path = tmp_path / CACHE_FILE
    path.parent.mkdir()
    with sqlite3.connect(path) as con:  # version 1's layout: every entry a vector
        con.executescript("""CREATE TABLE vectors (id INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE,
            vector BLOB NOT NULL, size INTEGER NOT NULL, used INTEGER NOT NULL);
            CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
            INSERT INTO vectors VALUES (1, x'00', x'0000803f', 4, 1);
            INSERT INTO meta VALUES ('bytes', 4), ('max_bytes', 1000);""")
    con.close()
    cache = EmbeddingCache(tmp_path)
    assert cache.stats() | {"file_bytes": 0} == {"entries": 0, "references": 0, "bytes": 0, "max_bytes": 1000,
                                                 "file_bytes": 0}
    glove = embkit.load_encoder("glove-50d")
    fp = model_fingerprint(Space("text", "glove-50d", 50, "cosine", True))
    assert np.array_equal(cache.encode(fp, TEXTS[:1], lambda t, p: glove.encode(t)), glove.encode(TEXTS[:1]))
    assert cache.stats()["entries"] == 1


def test_the_same_text_in_one_batch_is_embedded_once(tmp_path):
    col = embkit.create(tmp_path / "c", model="glove-50d")
    with counting() as counts:
        col.add([TEXTS[0], TEXTS[0], TEXTS[1]], ids=["a", "b", "c"])
    assert (counts.embedded, counts.cached) == (2, 1)
    col.close()


def test_two_models_never_share_a_vector_for_the_same_text(tmp_path, minilm):
    """One cache file, the same text, GloVe then MiniLM (and MiniLM int8): each gets its own."""
    cache = EmbeddingCache(tmp_path)
    glove = embkit.load_encoder("glove-50d")
    spaces = {name: Space("text", name, dim, "cosine", True)
              for name, dim in (("glove-50d", 50), ("minilm", 384), ("minilm-int8", 384))}
    prints = {name: model_fingerprint(space) for name, space in spaces.items()}
    assert len(set(prints.values())) == 3 and None not in prints.values()
    text = [TEXTS[0]]
    a = cache.encode(prints["glove-50d"], text, lambda t, p: glove.encode(t))
    b = cache.encode(prints["minilm"], text, lambda t, p: minilm.encode(t))
    assert a.shape == (1, 50) and b.shape == (1, 384)
    assert np.array_equal(a, glove.encode(text)) and np.array_equal(b, minilm.encode(text))
    with counting() as counts:  # now both are cached: each model its own vector back
        assert np.array_equal(cache.encode(prints["glove-50d"], text, None), a)
        assert np.array_equal(cache.encode(prints["minilm"], text, None), b)
    assert (counts.embedded, counts.cached) == (0, 2)


def test_new_weights_change_the_fingerprint_and_the_vector(tmp_path):
    """A model file rewritten with other weights: the same text is embedded again."""
    model = word_vectors(tmp_path / "words.txt", {"tea": [1, 0, 0], "cup": [0, 1, 0]})
    col = embkit.create(tmp_path / "c", model=model)
    col.add(["tea cup"], ids=["a"])
    before = col.get(["a"], include_vectors=True)[0].vector
    col.close()
    word_vectors(tmp_path / "words.txt", {"tea": [0, 0, 1], "cup": [0, 1, 0]})
    col = embkit.open(tmp_path / "c")
    with counting() as counts:
        col.add(["tea cup"], ids=["b"])
    after = col.get(["b"], include_vectors=True)[0].vector
    assert counts.embedded == 1
    assert np.allclose(before, [0.7071068, 0.7071068, 0]) and np.allclose(after, [0, 0.7071068, 0.7071068])
    col.close()


def test_the_least_recently_used_go_past_the_bound(tmp_path):
    glove = embkit.load_encoder("glove-50d")
    cache = EmbeddingCache(tmp_path, max_bytes=3 * 50 * 4)  # three 50-d vectors
    fp = model_fingerprint(Space("text", "glove-50d", 50, "cosine", True))
    encode = lambda t, p: glove.encode(t)  # noqa: E731
    cache.encode(fp, TEXTS[:3], encode)
    cache.encode(fp, TEXTS[:1], encode)  # the first is used again: the second is now the oldest
    cache.encode(fp, TEXTS[3:], encode)
    assert cache.stats() | {"file_bytes": 0} == {"entries": 3, "references": 0, "bytes": 600, "max_bytes": 600,
                                                 "file_bytes": 0}
    with counting() as counts:
        cache.encode(fp, [TEXTS[0], TEXTS[2], TEXTS[3]], None)  # all kept: the encoder is never called
    assert counts.embedded == 0
    with counting() as counts:
        cache.encode(fp, [TEXTS[1]], encode)
    assert counts.embedded == 1
    cache.max_bytes = 0  # a smaller bound evicts at once
    assert cache.stats()["entries"] == 0
    with pytest.raises(embkit.EmbkitError, match="cache_max_bytes: must be a whole number of bytes"):
        cache.max_bytes = -1


def test_a_damaged_cache_file_is_started_afresh(tmp_path):
    col = embkit.create(tmp_path / "c", model="glove-50d")
    col.add(TEXTS[:2], ids=["a", "b"])
    (tmp_path / "c" / CACHE_FILE).write_bytes(b"not a database at all " * 100)
    for suffix in ("-wal", "-shm"):
        (tmp_path / "c" / CACHE_FILE).with_name(CACHE_FILE.name + suffix).unlink(missing_ok=True)
    with counting() as counts:
        col.add(TEXTS[:2], ids=["a2", "b2"])
    assert counts.embedded == 2 and col.count() == 4
    with sqlite3.connect(tmp_path / "c" / CACHE_FILE) as con:
        assert con.execute("SELECT count(*) FROM vectors").fetchone()[0] == 2
    col.close()


def test_the_cache_can_be_turned_off(tmp_path):
    col = embkit.create(tmp_path / "c", model="glove-50d")
    col.cache_embeddings = False
    with counting() as counts:
        col.add(TEXTS[:2], ids=["a", "b"])
        col.add(TEXTS[:2], ids=["a2", "b2"])
    assert counts.embedded == 4 and col.embedding_cache is None
    assert not (tmp_path / "c" / CACHE_FILE).exists()
    with pytest.raises(embkit.EmbkitError, match="cache_embeddings: expected true or false"):
        col.cache_embeddings = "no"
    col.close()


def test_a_collection_of_given_vectors_has_no_cache(tmp_path):
    col = embkit.create(tmp_path / "c", model=None, dim=3)
    col.add(vectors=np.eye(3, dtype=np.float32), ids=["x", "y", "z"])
    assert not (tmp_path / "c" / CACHE_FILE).exists()
    assert model_fingerprint(col.space) is None
    col.close()


def test_embkit_add_no_cache_leaves_no_cache(tmp_path):
    from live_server import embkit_cli

    (tmp_path / "docs").mkdir()
    for n, text in enumerate(TEXTS):
        (tmp_path / "docs" / f"{n}.txt").write_text(text)
    embkit.create(tmp_path / "c", model="glove-50d").close()
    done = embkit_cli("add", str(tmp_path / "c"), str(tmp_path / "docs"), "--no-cache")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "c" / CACHE_FILE).exists()
    with embkit.open(tmp_path / "c") as col:
        assert col.count() == len(TEXTS)


def test_fingerprint_stamps_follow_symlinked_folders_and_refuse_a_partial_list(tmp_path, monkeypatch):
    """Review: weights in a symlinked folder were left out of the fingerprint, so new
    weights there kept the old fingerprint (and the old vectors)."""
    from embkit.ingest import model_fingerprint

    weights = tmp_path / "elsewhere" / "onnx"
    weights.mkdir(parents=True)
    (weights / "model.onnx").write_bytes(b"0" * 10)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "onnx").symlink_to(weights, target_is_directory=True)
    (weights / "loop").symlink_to(model, target_is_directory=True)  # a link back up: walked once
    names = [s[0] for s in model_fingerprint._stamps(model)]
    assert "onnx/model.onnx" in names and "config.json" in names
    monkeypatch.setattr(model_fingerprint, "MAX_FILES", 1)
    assert model_fingerprint._stamps(model) is None


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_postgres_vectors_are_referred_to_and_served_bit_for_bit(backend):
    with embkit.create(backend("c"), model="glove-50d") as col:
        col.add(TEXTS, ids=["a", "b", "c", "d"])
        assert col.embedding_cache.stats()["references"] == 4
        with counting() as counts:
            col.add(TEXTS, ids=["a2", "b2", "c2", "d2"])
        assert (counts.embedded, counts.cached) == (0, 4)
        got = {d.id: d.vector for d in col.get(["a", "a2", "d", "d2"], include_vectors=True)}
        assert np.array_equal(got["a"], got["a2"]) and np.array_equal(got["d"], got["d2"])


def test_a_store_that_cannot_be_read_costs_an_embedding_never_the_write(tmp_path):
    from embkit.ingest.write import held_by

    col = embkit.create(tmp_path / "c", model="glove-50d")
    col.add(TEXTS[:2], ids=["a", "b"])
    target, cache = col._write_target(), col.embedding_cache
    col.close()  # its store's connection is closed: reading the referenced vectors fails
    glove = embkit.load_encoder("glove-50d")
    fp = model_fingerprint(col.space)
    with pytest.warns(embkit.EmbkitWarning, match="embedding cache .* not used"), counting() as counts:
        got = cache.encode(fp, TEXTS[:2], lambda t, p: glove.encode(t), held=held_by(target, ["a", "b"]))
    assert counts.embedded == 2 and np.array_equal(got, glove.encode(TEXTS[:2]))
