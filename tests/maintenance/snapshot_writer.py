"""A writer for test_snapshot.py, run as its own process: adds batches of BATCH documents
to the collection at argv[1] until the file argv[2] exists (or MAX_BATCHES), closing the
collection (which saves its indexes) after each batch and searching by keyword every
third, so snapshots meet commits, index saves and keyword saves alike."""

import sys
from pathlib import Path

import numpy as np

import embkit

BATCH = 20
MAX_BATCHES = 2000
DIM = 8


def doc_id(batch: int, i: int) -> str:
    return f"b{batch:04d}-{i:02d}"


def text(batch: int, i: int) -> str:
    return f"document {i} of batch{batch:04d}"


def vector(batch: int, i: int) -> np.ndarray:
    return np.random.default_rng(batch * 1000 + i).normal(size=DIM).astype(np.float32)


def main(path: str, stop: str) -> None:
    for batch in range(MAX_BATCHES):
        if Path(stop).exists():
            return
        with embkit.open(path) as col:
            col.add([text(batch, i) for i in range(BATCH)], ids=[doc_id(batch, i) for i in range(BATCH)],
                    vectors=np.stack([vector(batch, i) for i in range(BATCH)]), metadatas=[{"batch": batch}] * BATCH)
            col.search(vector=vector(batch, 0), k=1)  # catches the index up, so close saves it
            if batch % 3 == 0:
                col.search(f"batch{batch:04d}", mode="keyword", k=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
