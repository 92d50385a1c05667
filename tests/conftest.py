"""Shared test set-up: offline, a private EMBKIT_HOME, the real model loaded once."""

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
if "EMBKIT_HOME" not in os.environ:  # a private home, removed at the end (it holds GBs of exported models)
    os.environ["EMBKIT_HOME"] = tempfile.mkdtemp(prefix="embkit-home-")
    atexit.register(shutil.rmtree, os.environ["EMBKIT_HOME"], ignore_errors=True)

from corpora import DATA, REPO  # noqa: E402,F401 - re-exported for fixtures
from pg_fixtures import BACKENDS, Backend, start_server  # noqa: E402
from skip_policy import (  # noqa: E402,F401 - hooks: a skip for a missing part fails the run
    pytest_collectreport,
    pytest_runtest_logreport,
    pytest_sessionfinish,
    pytest_sessionstart,
    pytest_terminal_summary,
)


@pytest.fixture(scope="session", autouse=True)
def _filter_kernel_compiled():
    """The int8 filter pass compiled before any test: numba swaps the process-wide
    warning hooks while it compiles (seconds on a clean clone, whose numba cache is
    empty), and a background compile could swallow a warning a test is catching."""
    from embkit.search.filter_codes_cache import load_kernel

    load_kernel(wait=None)


@pytest.fixture(scope="session")
def minilm():
    """The default encoder (real all-MiniLM-L6-v2 on onnxruntime)."""
    import embkit

    return embkit.load_encoder("minilm")


@pytest.fixture(scope="session")
def stsb_sentences() -> list[str]:
    """Every sentence of the STS-B test split, in file order (sentence1, sentence2, ...)."""
    path = DATA / "stsb" / "sts-test.csv"
    sentences = []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        sentences += [fields[5], fields[6]]
    return sentences


@pytest.fixture(scope="module")
def one_thread():
    """Single-threaded FAISS and BLAS/OpenMP: on a busy 2-core machine, threads make
    small k-means and t-SNE runs many times slower, not faster."""
    import faiss
    from threadpoolctl import threadpool_limits

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    with threadpool_limits(1):
        yield
    faiss.omp_set_num_threads(before)


def python_cmd() -> list[str]:
    return [sys.executable]


@pytest.fixture(scope="session")
def small_beir(tmp_path_factory) -> Path:
    """A small real BEIR folder cut from SciFact (see beir_cut.py)."""
    from beir_cut import cut_scifact

    return cut_scifact(tmp_path_factory.mktemp("beir") / "scifact-small")


@pytest.fixture(scope="session")
def pg_server():
    """One PostgreSQL + pgvector server for the session, started on first use; tests
    that need it skip, with the reason, where it cannot run."""
    from pg_server import available

    reason = available()
    if reason:
        pytest.skip(f"PostgreSQL: {reason}")
    server = start_server()
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path) -> Backend:
    """Runs a test once per store backend; `backend("name")` is a fresh location."""
    if request.param == "postgres":
        return Backend("postgres", server=request.getfixturevalue("pg_server"))
    return Backend("sqlite", tmp_path)
