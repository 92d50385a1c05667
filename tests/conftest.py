"""Shared test set-up: offline, a private EMBKIT_HOME, the real model loaded once."""

import os
import sys
import tempfile
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("EMBKIT_HOME", tempfile.mkdtemp(prefix="embkit-home-"))

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def minilm():
    """The default encoder (real all-MiniLM-L6-v2 on onnxruntime)."""
    import embkit

    return embkit.load_encoder("minilm")


@pytest.fixture(scope="session")
def stsb_sentences() -> list[str]:
    """Every sentence of the STS-B test split, in file order (sentence1, sentence2, ...)."""
    path = DATA / "stsb" / "sts-test.csv"
    if not path.exists():
        pytest.skip(f"{path} not found (../shared/data is expected beside the repo)")
    sentences = []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        sentences += [fields[5], fields[6]]
    return sentences


def two_sources(n: int) -> tuple[list[str], list[str]]:
    """n SciFact abstract openings (300 characters) and n BANKING77 queries, with their
    source as the label: a corpus of two clearly different kinds of text."""
    import csv
    import json

    corpus, banking = DATA / "scifact" / "corpus.jsonl", DATA / "banking77" / "train.csv"
    if not corpus.exists() or not banking.exists():
        pytest.skip("../shared/data (scifact, banking77) is expected beside the repo")
    with open(corpus, encoding="utf-8") as f:
        science = [json.loads(next(f))["text"][:300] for _ in range(n)]
    with open(banking, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    queries = [r["text"] for r in rows[::len(rows) // n][:n]]
    return science + queries, ["scifact"] * n + ["banking77"] * n


def python_cmd() -> list[str]:
    return [sys.executable]


@pytest.fixture(scope="session")
def small_beir(tmp_path_factory) -> Path:
    """A small real BEIR folder cut from SciFact (see beir_cut.py)."""
    from beir_cut import cut_scifact

    return cut_scifact(tmp_path_factory.mktemp("beir") / "scifact-small")
