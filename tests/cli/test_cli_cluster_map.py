"""`embkit cluster` and `embkit map` end to end on real MiniLM embeddings of two
unlike sources: the clusters separate them, land in metadata and print readably;
the map writes its HTML and PNG; bad input exits 1 with one line naming the field."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.metrics import adjusted_rand_score
from typer.testing import CliRunner

import embkit
from embkit.cli import app

from corpora import two_sources  # noqa: E402


def invoke(*args):
    """Run a command in this process (the CLI's own stdout, no model reload)."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def run(*args):
    """Run `embkit ARGS` as a real process: exit codes and `error:` lines come from main()."""
    return subprocess.run([sys.executable, "-m", "embkit.cli", *map(str, args)], capture_output=True, text=True,
                          check=False, timeout=300)


@pytest.fixture(scope="module")
def collection(tmp_path_factory, minilm) -> Path:
    texts, sources = two_sources(100)
    path = tmp_path_factory.mktemp("cli-cluster") / "c"
    with embkit.create(path, model="minilm") as col:
        col.add(texts, ids=[f"d{i}" for i in range(200)], metadatas=[{"source": s} for s in sources],
                vectors=minilm.encode(texts))
    return path


def metadata(path: Path) -> list[dict]:
    with embkit.open(path) as col:
        return [d.metadata for d in col.get([f"d{i}" for i in range(200)])]


def test_cluster_json_separates_sources_and_stores_labels(collection):
    out = json.loads(invoke("cluster", collection, "--k", "2", "--seed", "0", "--json").stdout)
    assert out["k"] == 2 and out["documents"] == 200 and out["field"] == "cluster" and out["method"] == "kmeans"
    assert sum(c["size"] for c in out["clusters"]) == 200 and "labels" not in out
    stored = [m["cluster"] for m in metadata(collection)]
    assert adjusted_rand_score([m["source"] for m in metadata(collection)], stored) >= 0.9
    for c in out["clusters"]:
        assert stored.count(c["id"]) == c["size"] and len(c["terms"]) == 8
        assert stored[int(c["representative"][1:])] == c["id"]


def test_cluster_prints_clusters_with_terms_and_representatives(collection):
    text = invoke("cluster", collection, "--k", "auto").stdout
    lines = text.splitlines()
    assert lines[0].startswith("2 clusters of 200 documents; stored in metadata field 'cluster'")
    assert lines[1].startswith("note: k = 2 chosen by silhouette (cosine) among k = 2..14 on 200 points")
    assert text.count("representative d") == 2 and "card" in text


def test_map_writes_html_and_png(collection, tmp_path):
    invoke("cluster", collection, "--k", "2")
    target = tmp_path / "out" / "map.html"
    text = invoke("map", collection, "--method", "pca", "--color-by", "cluster", "-o", target).stdout
    assert text.splitlines() == [f"wrote {target} and {target.with_suffix('.png')} (200 points, pca)",
                                 "note: PCA to 2-D, seed 0"]
    assert target.stat().st_size > 1_000_000 and target.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    out = json.loads(invoke("map", collection, "--method", "pca", "--color-by", "none", "-o", target,
                            "--json").stdout)
    assert out["points"] == 200 and out["color_by"] is None and out["notes"][-1] == "projection loaded from cache"


@pytest.mark.parametrize("args, message", [
    (["cluster", "--k", "500"], "error: k: must be between 2 and 200 (the collection has 200 documents), got 500"),
    (["cluster", "--where", '{"source": "nowhere"}'],
     'error: where: {"source": "nowhere"} matches no documents in the collection'),
    (["cluster", "--k", "two"], "error: k: expected auto or an integer, got 'two'"),
    (["map", "--color-by", "nope", "-o", "{out}"], "error: color_by: no document has the field 'nope'"),
])
def test_bad_input_exits_1_and_changes_nothing(collection, tmp_path, args, message):
    before = metadata(collection)
    out = tmp_path / "never.html"
    proc = run(args[0], collection, *[str(out) if a == "{out}" else a for a in args[1:]])
    assert proc.returncode == 1 and proc.stderr.startswith(message), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stdout == ""
    assert metadata(collection) == before and not out.exists() and not out.with_suffix(".png").exists()
