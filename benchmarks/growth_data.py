"""The growth benchmark's inputs, made once and shared by every side: texts (lane E's
short_texts), metadata with a 1% filter field, the queries, and the vectors of each
model (cached as .npy in the work folder, so every side gets the very same floats).

The distilled static model (MiniLM through model2vec, 384 dims, `embkit train distill
--pca-dims 384`) is built once under EMBKIT_HOME/bench/ and reused."""

import json
import os
import time
from pathlib import Path

import numpy as np
from short_texts import DATA, short_texts

FILTER_FIELD, FILTER_BUCKETS, FILTER_VALUE = "bucket", 100, 42  # where {"bucket": 42}: 1% of the documents
ADD_ONE_POOL = 400  # texts after the collection's last one, for the add-one-document rounds
STATIC_DIMS = 384


def metadata(i: int) -> dict:
    """Document i's metadata: its bucket (i mod 100, so one value selects 1%) and a source tag."""
    return {"source": "scifact-pairs", FILTER_FIELD: i % FILTER_BUCKETS}


def texts(count: int, start: int = 0) -> tuple[list[str], list[str]]:
    """(ids, texts) of documents start .. start+count-1."""
    pairs = list(short_texts(count, start))
    return [p[0] for p in pairs], [p[1] for p in pairs]


def queries(count: int) -> list[str]:
    """The first `count` SciFact queries (short real questions and claims)."""
    out = []
    with open(DATA / "scifact" / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            out.append(json.loads(line)["text"])
            if len(out) == count:
                break
    return out


def static_model() -> Path:
    """The distilled MiniLM (model2vec, 384-d), built once under EMBKIT_HOME/bench/ (~30 s)."""
    from embkit.paths import embkit_home

    folder = embkit_home() / "bench" / f"minilm-static-{STATIC_DIMS}"
    if not (folder / "config.json").is_file():
        from embkit.train.distill import train_distill

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        train_distill(folder, "minilm", pca_dims=STATIC_DIMS, overwrite=True)
    return folder


def model_path(model: str) -> str:
    """What embkit is given as --model: the static folder or a catalog name."""
    return str(static_model()) if model == "static" else model


def vectors_file(work: Path, model: str, count: int) -> Path:
    return work / f"vectors-{model}-{count}.npy"


def ensure_vectors(work: Path, model: str, count: int, n_queries: int) -> dict:
    """Vectors of the first `count` texts (and the add-one pool after them, and the
    queries) by `model`, cached; a cache covering more texts is sliced. Returns the
    files and, when it embedded, the model's documents per second."""
    work.mkdir(parents=True, exist_ok=True)
    total = count + ADD_ONE_POOL
    queries_file = work / f"queries-{model}-{n_queries}.npy"
    cached = sorted((int(p.stem.rsplit("-", 1)[1]), p) for p in work.glob(f"vectors-{model}-*.npy"))
    covering = [p for n, p in cached if n >= total]
    out = {"docs": str(covering[0]) if covering else str(vectors_file(work, model, total)),
           "queries": str(queries_file), "embed_docs_per_s": None}
    if covering and queries_file.is_file():
        return out
    from embkit import load_encoder

    encoder = load_encoder(model_path(model))
    if not queries_file.is_file():
        np.save(queries_file, encoder.encode(queries(n_queries), batch_size=256))
    if not covering:
        _, docs = texts(total)
        encoder.encode(docs[:256], batch_size=256)  # warm up
        started = time.perf_counter()
        vecs = encoder.encode(docs, batch_size=256)
        out["embed_docs_per_s"] = total / (time.perf_counter() - started)
        np.save(out["docs"], vecs.astype(np.float32, copy=False))
        (work / f"embed-{model}-{total}.json").write_text(json.dumps({"docs_per_s": out["embed_docs_per_s"]}))
    return out


def embed_rate(work: Path, model: str) -> float | None:
    """The documents per second measured when the largest cached vectors of `model` were made."""
    found = sorted(work.glob(f"embed-{model}-*.json"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    return json.loads(found[-1].read_text())["docs_per_s"] if found else None


def payload_bytes(count: int) -> dict:
    """UTF-8 bytes of the first `count` texts and of their metadata as JSON, per document:
    with 4 bytes a dimension, the raw size a store is compared with."""
    _, docs = texts(count)
    text = sum(len(t.encode()) for t in docs)
    meta = sum(len(json.dumps(metadata(i)).encode()) for i in range(count))
    return {"text_per_doc": text / count, "metadata_per_doc": meta / count}
