"""The growth benchmark's inputs, made once and shared by every side: texts (lane E's
short_texts), metadata with a 1% filter field, the queries, and the vectors of each
model (cached as .npy in the work folder, so every side gets the very same floats).

The distilled static model (MiniLM through model2vec, 384 dims, `embkit train distill
--pca-dims 384`) is built once under EMBKIT_HOME/bench/ and reused."""

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from short_texts import DATA, short_text, short_texts

FILTER_FIELD, FILTER_BUCKETS, FILTER_VALUE = "bucket", 100, 42  # where {"bucket": 42}: 1% of the documents
ADD_ONE_POOL = 400  # texts after the collection's last one, for the add-one-document rounds
STATIC_DIMS = 384
EMBED_CHUNK = 10_000  # texts embedded per call while the vector cache is made (progress between)
EMBED_SAMPLE = 2_000  # texts the build phase embeds to time the model


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


def fingerprint(model: str) -> str:
    """What the cached vectors depend on: a sample of the generator's texts (so an edit of
    its docstring keeps the cache, a change of its texts does not) and the model's weights."""
    digest = hashlib.sha256()
    for i in range(0, 2_000_000, 9_973):
        digest.update(short_text(i).encode())
    if model == "static":
        digest.update((static_model() / "model.safetensors").read_bytes())
    else:
        digest.update(model.encode())
    return digest.hexdigest()[:12]


def ensure_vectors(work: Path, model: str, count: int, n_queries: int) -> dict:
    """Files of the vectors by `model` of the first `count` texts (and the add-one pool
    after them) and of the queries, made once (not timed: the sides time their own
    embedding); a cache covering more texts serves a smaller size. Made in chunks kept
    on disk, so a stopped run resumes where it was."""
    folder = work / "vectors" / f"{model}-{fingerprint(model)}"
    (folder / "chunks").mkdir(parents=True, exist_ok=True)
    total = count + ADD_ONE_POOL
    queries_file = folder / f"queries-{n_queries}.npy"
    cached = sorted((int(p.stem.split("-")[1]), p) for p in folder.glob("docs-*.npy") if ".part" not in p.name)
    covering = [p for n, p in cached if n >= total]
    out = {"docs": str(covering[0] if covering else folder / f"docs-{total}.npy"), "queries": str(queries_file)}
    if covering and queries_file.is_file():
        return out
    from embkit import load_encoder

    encoder = load_encoder(model_path(model))
    if not queries_file.is_file():
        _save(queries_file, encoder.encode(queries(n_queries), batch_size=64))
    if not covering:
        chunks = []
        for start in range(0, total, EMBED_CHUNK):
            chunk = folder / "chunks" / f"chunk-{start}-{min(EMBED_CHUNK, total - start)}.npy"
            if not chunk.is_file():
                _, docs = texts(min(EMBED_CHUNK, total - start), start)
                _save(chunk, encoder.encode(docs, batch_size=64).astype(np.float32, copy=False))
            chunks.append(chunk)
            print(f"  {model} vectors: {min(start + EMBED_CHUNK, total):,} / {total:,}", file=sys.stderr, flush=True)
        _save(Path(out["docs"]), np.concatenate([np.load(c) for c in chunks]))
        for chunk in chunks:  # the whole file serves from now on
            chunk.unlink()
    return out


def _save(path: Path, array: np.ndarray) -> None:
    """np.save through a temporary name, so a stopped run leaves no half-written cache."""
    part = path.with_name(path.stem + ".part.npy")
    np.save(part, array)
    os.replace(part, path)


def embed_rate(model: str, count: int = EMBED_SAMPLE) -> float:
    """The model's documents per second on the first `count` texts (batch 64, after a warm-up):
    what a user's `add` of texts spends before the store sees them."""
    from embkit import load_encoder

    encoder = load_encoder(model_path(model))
    _, docs = texts(count)
    encoder.encode(docs[:64], batch_size=64)
    started = time.perf_counter()
    encoder.encode(docs, batch_size=64)
    return count / (time.perf_counter() - started)


def payload_bytes(count: int) -> dict:
    """UTF-8 bytes of the first `count` texts and of their metadata as JSON, per document:
    with 4 bytes a dimension, the raw size a store is compared with."""
    _, docs = texts(count)
    text = sum(len(t.encode()) for t in docs)
    meta = sum(len(json.dumps(metadata(i)).encode()) for i in range(count))
    return {"text_per_doc": text / count, "metadata_per_doc": meta / count}
