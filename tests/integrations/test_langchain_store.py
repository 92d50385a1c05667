"""EmbkitVectorStore: LangChain's own VectorStoreIntegrationTests, unmodified, on a local
folder, on a PostgreSQL collection and on a real `embkit serve` (one per module,
loopback, an admin key); then the store against embkit's own answers
(Collection.search ids and scores, where, MMR)."""

import uuid

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_tests.integration_tests import VectorStoreIntegrationTests
from langchain_tests.integration_tests.vectorstores import EMBEDDING_SIZE

import embkit
from embkit.errors import EmbkitError, EmbkitWarning
from embkit.integrations.langchain import EmbkitEmbeddings, EmbkitVectorStore

from langchain_suites import mark_async
from live_server import LiveServer, create_key
from pg_fixtures import DATABASE

mark_async(VectorStoreIntegrationTests)

TEXTS = {
    "cat": ("the cat sat on the mat", {"topic": "pets", "year": 2019}),
    "kitten": ("a small kitten slept on the warm rug", {"topic": "pets", "year": 2021}),
    "dog": ("the dog chased a ball across the park", {"topic": "pets", "year": 2023}),
    "stocks": ("stock markets fell sharply on friday", {"topic": "money", "year": 2021}),
    "bonds": ("bond yields rose as inflation climbed", {"topic": "money", "year": 2018}),
    "rain": ("heavy rain flooded the streets overnight", {"topic": "weather", "year": 2022}),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real `embkit serve --root` on loopback with an admin key (stores are made there)."""
    base = tmp_path_factory.mktemp("langchain-server")
    (base / "root").mkdir()
    key = create_key(base / "keys.json", "admin")
    live = LiveServer(["--root", str(base / "root"), "--keys-file", str(base / "keys.json")], base / "server.log")
    yield live, key
    assert live.stop() == 0


class TestLocalFolder(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self, tmp_path):
        """An empty store: a folder that gets its collection on the first write."""
        store = EmbkitVectorStore(tmp_path / "store", self.get_embeddings())
        yield store
        store.close()


class TestPostgres(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self, pg_server):
        """An empty store: a new PostgreSQL collection for vectors of the suite's dimension."""
        url = f"{pg_server.url_for(DATABASE)}?collection=lc{uuid.uuid4().hex[:12]}"
        embkit.create(url, model=None, dim=EMBEDDING_SIZE).close()
        store = EmbkitVectorStore(url, self.get_embeddings())
        yield store
        store.close()


class TestRemoteServer(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self, server):
        """An empty store: a new name on the server, deleted after the test."""
        live, key = server
        name = f"lc-{uuid.uuid4().hex[:12]}"
        store = EmbkitVectorStore(url=live.url, collection=name, api_key=key, embedding=self.get_embeddings())
        yield store
        store.close()
        with live.client(key) as http:
            assert http.delete(f"/collections/{name}").status_code in (200, 404)


@pytest.fixture(scope="module")
def pets(tmp_path_factory, minilm):
    """A store embedded by embkit itself (MiniLM) and the Collection behind it."""
    folder = tmp_path_factory.mktemp("pets") / "col"
    store = EmbkitVectorStore.from_texts(
        [t for t, _ in TEXTS.values()],
        EmbkitEmbeddings("minilm"),
        [m for _, m in TEXTS.values()],
        ids=list(TEXTS),
        path=folder,
    )
    return store, embkit.open(folder)


def _pairs(results):
    return [(doc.id, score) for doc, score in results]


def test_results_are_collection_search_ids_and_scores(pets):
    store, col = pets
    got = store.similarity_search_with_score("a cat on a rug", k=4)
    assert _pairs(got) == [(h.id, h.score) for h in col.search("a cat on a rug", k=4)]
    assert [doc.page_content for doc, _ in got] == [TEXTS[doc.id][0] for doc, _ in got]
    assert [doc.metadata for doc, _ in got] == [TEXTS[doc.id][1] for doc, _ in got]


def test_filter_is_embkit_where_and_returns_exact_ids(pets):
    store, col = pets
    where = {"$and": [{"topic": "pets"}, {"year": {"$gte": 2020}}]}
    got = store.similarity_search("animals", k=6, filter=where)
    assert sorted(doc.id for doc in got) == ["dog", "kitten"]
    assert [doc.id for doc in got] == [h.id for h in col.search("animals", k=6, where=where)]
    assert [d.id for d in store.as_retriever(search_kwargs={"k": 6, "filter": {"topic": "money"}}).invoke("x y")] in (
        ["stocks", "bonds"],
        ["bonds", "stocks"],
    )


def test_mmr_is_collection_search_mmr(pets):
    store, col = pets
    got = store.max_marginal_relevance_search("pets sleeping", k=3, lambda_mult=0.2)
    assert [doc.id for doc in got] == [h.id for h in col.search("pets sleeping", k=3, mmr=0.2)]
    assert [doc.id for doc in got] != [h.id for h in col.search("pets sleeping", k=3)]  # MMR changed the list


def test_search_by_vector_and_relevance_scores(pets, minilm):
    store, col = pets
    vector = minilm.encode(["money and markets"])[0]
    assert [d.id for d in store.similarity_search_by_vector(vector.tolist(), k=3)] == [
        h.id for h in col.search(vector=vector, k=3)
    ]
    relevance = store.similarity_search_with_relevance_scores("money and markets", k=3)
    assert [(d.id, r) for d, r in relevance] == [
        (h.id, (1 + h.score) / 2) for h in col.search("money and markets", k=3)
    ]


def test_hybrid_mode_passes_through(pets):
    store, col = pets
    got = store.similarity_search_with_score("bond yields", k=3, mode="hybrid")
    assert _pairs(got) == [(h.id, h.score) for h in col.search("bond yields", k=3, mode="hybrid")]


def test_foreign_embeddings_give_vectors_to_embkit(tmp_path):
    fake = DeterministicFakeEmbedding(size=8)
    store = EmbkitVectorStore.from_texts(["alpha", "beta", "gamma"], fake, ids=["a", "b", "g"], path=tmp_path / "c")
    col = embkit.open(tmp_path / "c")
    assert (col.space.model, col.space.dim) == ("none", 8)
    stored = {d.id: d.vector for d in col.get(["a", "b", "g"], include_vectors=True)}
    want = np.asarray(fake.embed_documents(["beta"])[0], dtype=np.float32)
    assert np.allclose(stored["b"], want / np.linalg.norm(want), atol=1e-6)  # cosine: unit length at write
    got = store.similarity_search_with_score("beta", k=3)
    assert _pairs(got) == [(h.id, h.score) for h in col.search(vector=fake.embed_query("beta"), k=3)]
    assert got[0][0].id == "b"


def test_an_embkit_model_other_than_the_collections_is_refused(tmp_path):
    EmbkitVectorStore.from_texts(["alpha"], DeterministicFakeEmbedding(size=384), ids=["a"], path=tmp_path / "c")
    store = EmbkitVectorStore(tmp_path / "c", EmbkitEmbeddings("minilm"))
    with pytest.raises(EmbkitError, match=r"^model: space 'text' holds vectors from 'none' \(384-d\); got 'minilm'"):
        store.add_texts(["beta"], ids=["b"])
    assert embkit.open(tmp_path / "c").count() == 1


def test_bad_input_is_one_line_and_writes_nothing(pets, tmp_path):
    store, col = pets
    with pytest.raises(EmbkitError, match=r"^texts\[1\]: empty or whitespace-only text$"):
        store.add_texts(["fine", "  "], ids=["x1", "x2"])
    assert col.count() == len(TEXTS)
    with pytest.raises(EmbkitError, match=r"^score_cutoff: not an option of EmbkitVectorStore.search"):
        store.similarity_search("cat", score_cutoff=0.5)
    with pytest.raises(EmbkitError, match=r"^ids: give the ids to delete, or filter="):
        store.delete()
    with pytest.raises(EmbkitError, match=r"^ids: 2 texts need as many metadatas and ids"):
        store.add_texts(["a", "b"], ids=["only-one"])
    # a string where a list goes was taken letter by letter: delete("cat") deleted "c", "a" and "t"
    # (had they existed), add_texts("hi") added "h" and "i"; a string as metadata was a ValueError
    for call, message in [
        (lambda: store.add_texts("hi"), "texts: expected a list, got str"),
        (lambda: store.add_texts(["a"], ids="x"), "ids: expected a list, got str"),
        (lambda: store.add_texts(["a"], ["topic"]), "metadatas[0]: expected an object with string keys, got str"),
        (lambda: store.add_texts(None), "texts: expected a list, got NoneType"),
        (lambda: store.delete("cat"), "ids: expected a list, got str"),
        (lambda: store.get_by_ids("cat"), "ids: expected a list, got str"),
    ]:
        with pytest.raises(EmbkitError) as e:
            call()
        assert str(e.value) == message
    assert col.count() == len(TEXTS) and len(store.get_by_ids(["cat"])) == 1


def test_a_document_is_one_record_unless_chunk_is_asked(tmp_path):
    long = " ".join(f"sentence {i} is about cats, dogs and the weather." for i in range(80))  # > 256 tokens
    whole = EmbkitVectorStore(tmp_path / "whole", EmbkitEmbeddings("minilm"))
    with pytest.warns(EmbkitWarning, match="stored whole"):
        whole.add_texts([long], [{"kind": "long"}], ids=["doc"])
    assert whole.get_by_ids(["doc"]) == [Document(id="doc", page_content=long, metadata={"kind": "long"})]
    chunked = EmbkitVectorStore(tmp_path / "chunked", EmbkitEmbeddings("minilm"), chunk=True)
    assert chunked.add_texts([long], [{"kind": "long"}], ids=["doc"]) == ["doc"]
    parts = chunked.get_by_ids(["doc"])
    assert len(parts) > 1 and [d.id for d in parts] == [f"doc#{i}" for i in range(len(parts))]
    assert all(d.metadata["parent"] == "doc" and d.metadata["kind"] == "long" for d in parts)
    assert chunked.similarity_search("weather", k=1)[0].id.startswith("doc#")


def test_delete_by_filter_and_ids(tmp_path):
    store = EmbkitVectorStore(tmp_path / "c")  # no embedding: embkit's default model embeds
    store.add_documents([Document(id=k, page_content=t, metadata=m) for k, (t, m) in TEXTS.items()])
    store.delete(filter={"topic": "money"})
    store.delete(["rain", "missing"])
    assert sorted(d.id for d in store.get_by_ids(list(TEXTS))) == ["cat", "dog", "kitten"]


def test_remote_store_answers_as_the_local_one(server, pets, minilm, monkeypatch):
    live, key = server
    local, _ = pets
    name = f"lc-{uuid.uuid4().hex[:12]}"
    remote = EmbkitVectorStore.from_texts(
        [t for t, _ in TEXTS.values()],
        EmbkitEmbeddings("minilm"),
        [m for _, m in TEXTS.values()],
        ids=list(TEXTS),
        url=live.url,
        collection=name,
        api_key=key,
    )
    with live.client(key) as http:
        info = http.get(f"/collections/{name}").json()
    assert (info["model"], info["count"]) == ("minilm", len(TEXTS))  # the server embedded: its own model
    for query, options in (("a cat on a rug", {}), ("animals", {"filter": {"year": {"$gte": 2021}}})):
        want = local.similarity_search_with_score(query, k=4, **options)
        got = remote.similarity_search_with_score(query, k=4, **options)
        assert [d.id for d, _ in got] == [d.id for d, _ in want]
        assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-6)
        assert [(d.page_content, d.metadata) for d, _ in got] == [(d.page_content, d.metadata) for d, _ in want]
    assert [d.id for d in remote.max_marginal_relevance_search("pets sleeping", k=3, lambda_mult=0.2)] == [
        d.id for d in local.max_marginal_relevance_search("pets sleeping", k=3, lambda_mult=0.2)
    ]
    monkeypatch.setenv("EMBKIT_API_KEY", key)
    plain = EmbkitVectorStore(url=live.url, collection=name)  # the key from the environment; the server's model
    assert _pairs(plain.similarity_search_with_score("a cat on a rug", k=4)) == _pairs(
        remote.similarity_search_with_score("a cat on a rug", k=4)
    )
    assert plain.embeddings.model_name == "minilm"
    assert np.allclose(plain.embeddings.embed_query("a cat"), local.embeddings.embed_query("a cat"), atol=1e-6)
    assert remote.get_by_ids(["dog", "nope", "cat"]) == local.get_by_ids(["dog", "nope", "cat"])
    remote.delete(["dog"], filter={"topic": "pets"})
    assert sorted(d.id for d in remote.get_by_ids(list(TEXTS))) == ["bonds", "cat", "kitten", "rain", "stocks"]


def test_remote_refusals_are_embkit_errors(server):
    live, _ = server
    store = EmbkitVectorStore(
        url=live.url, collection="nope", api_key="not-a-key", embedding=DeterministicFakeEmbedding(size=6)
    )
    with pytest.raises(EmbkitError, match=r"^authorization: the API key is not valid or was revoked$"):
        store.similarity_search("foo")
    with pytest.raises(EmbkitError, match=r"^collection: a remote store needs the name of a collection"):
        EmbkitVectorStore(url=live.url)


def test_a_refused_first_write_leaves_no_collection(tmp_path, server):
    fresh = EmbkitVectorStore(tmp_path / "new", EmbkitEmbeddings("minilm"))
    with pytest.raises(EmbkitError, match=r"^metadatas\[0\]: not JSON-serializable"):
        fresh.add_texts(["a text"], [{"when": object()}], ids=["a"])
    assert not (tmp_path / "new").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("the user's own file")
    foreign = EmbkitVectorStore(tmp_path / "mine", DeterministicFakeEmbedding(size=6))
    with pytest.raises(EmbkitError, match=r"^texts\[0\]: empty or whitespace-only text$"):
        foreign.add_texts(["   "], ids=["a"])
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]
    assert foreign.add_texts(["fine now"], ids=["a"]) == ["a"]  # and the store still works
    live, key = server
    name = f"lc-{uuid.uuid4().hex[:12]}"
    remote = EmbkitVectorStore(url=live.url, collection=name, api_key=key, embedding=DeterministicFakeEmbedding(size=6))
    with pytest.raises(EmbkitError, match=r"^metadatas\[0\]: "):
        remote.add_texts(["a text"], [{"deep": {"x": float("nan")}}], ids=["a"])
    with live.client(key) as http:
        assert http.get(f"/collections/{name}").status_code == 404


def test_retriever_search_types(pets):
    store, col = pets
    hits = col.search("a cat on a rug", k=4)
    cut = (1 + hits[1].score) / 2
    kwargs = {"k": 4, "score_threshold": cut}
    got = store.as_retriever(search_type="similarity_score_threshold", search_kwargs=kwargs).invoke("a cat on a rug")
    assert [d.id for d in got] == [h.id for h in hits[:2]]
    mmr = store.as_retriever(search_type="mmr", search_kwargs={"k": 3, "lambda_mult": 0.2}).invoke("pets sleeping")
    assert [d.id for d in mmr] == [h.id for h in col.search("pets sleeping", k=3, mmr=0.2)]


def test_l2_scores_are_negated_distances_and_relevance_maps_them(tmp_path, minilm):
    texts = ["the cat sat on the mat", "stock markets fell"]
    store = EmbkitVectorStore.from_texts(
        texts, EmbkitEmbeddings("minilm"), ids=["a", "b"], path=tmp_path / "c", metric="l2"
    )
    got = store.similarity_search_with_score("the cat sat on the mat", k=2)
    vectors = minilm.encode(texts)  # unit length: l2 distances from 0 to 2
    assert [d.id for d, _ in got] == ["a", "b"]
    assert [s for _, s in got] == pytest.approx([0.0, -float(np.linalg.norm(vectors[0] - vectors[1]))], abs=1e-5)
    relevance = store.similarity_search_with_relevance_scores("the cat sat on the mat", k=2)
    assert [r for _, r in relevance] == pytest.approx([1 + s / np.sqrt(2) for _, s in got])
    assert all(0 <= r <= 1 for _, r in relevance)


def test_a_remote_store_makes_its_embeddings_once_and_closes_them():
    """Review: every read of `.embeddings` (as_retriever reads it) opened an HTTP client
    that nothing closed."""
    store = EmbkitVectorStore(url="http://127.0.0.1:9", collection="docs")
    first = store.embeddings
    assert store.embeddings is first
    store.as_retriever()
    store.close()
    assert first._remote.server._http.is_closed
