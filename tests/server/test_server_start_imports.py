"""A server process imports what a route needs when the route is first used: creating
the application, and answering a search by vector, load no analysis, plotting, model
or keyword-library package (each `embkit serve` worker would hold it: bm25s alone
brought numba and scipy, ~70 MiB a process). Checked in a fresh interpreter, on a real
collection, through the real application."""

import json
import subprocess
import sys

import numpy as np

import embkit

# packages a worker must not load at start or for a search by vector
HEAVY = ["bm25s", "numba", "llvmlite", "scipy", "sklearn", "umap", "pynndescent", "matplotlib", "plotly", "pandas",
         "torch", "sentence_transformers", "transformers", "onnxruntime", "tokenizers", "onnx", "PIL", "pyarrow",
         "pypdf", "model2vec"]

SCRIPT = """
import json, sys
from embkit.server.workers import Settings, application
heavy = json.loads(sys.argv[2])
loaded = lambda: sorted(name for name in heavy if name in sys.modules)
app = application(Settings(folders=[sys.argv[1]], root=None, read_url=None, keys_file=None, no_auth=True,
                           limits={}, reranker=None))
at_start = loaded()
from starlette.testclient import TestClient
with TestClient(app) as client:
    found = client.post("/collections/notes/search", json={"vector": [1.0] + [0.0] * 383, "k": 2}).json()
print(json.dumps({"start": at_start, "search": loaded(), "hits": [h["id"] for h in found["hits"]]}))
"""


def test_a_worker_loads_no_heavy_package_at_start_or_for_a_vector_search(tmp_path):
    """The collection has a model (minilm), but a search by vector never runs it."""
    col = embkit.create(tmp_path / "notes", model="minilm")
    vectors = np.eye(2, 384, dtype=np.float32)
    col.add(["first", "second"], ids=["a", "b"], vectors=vectors)
    col.close()
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "notes"), json.dumps(HEAVY)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"start": [], "search": [], "hits": ["a", "b"]}


def test_the_cli_and_the_key_store_load_no_web_framework():
    """`embkit keys` and the `--workers` supervisor use KeyStore, Limits and Collections:
    none of them needs FastAPI, Starlette or uvicorn."""
    code = ("import sys, embkit.cli; from embkit.server import Collections, KeyStore, Limits; "
            "from embkit.server.workers import Settings; "
            "print(sorted(m for m in ('fastapi', 'starlette', 'uvicorn', 'pydantic', 'bm25s') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
