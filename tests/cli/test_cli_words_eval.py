"""`embkit analogy`, `embkit neighbors` and `embkit eval sts|classify|cluster` end to end
(GloVe 50d keeps them quick); a collection on glove-50d through init, add and search."""

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import embkit
from embkit.cli import app
from embkit.evaluate.classify import classify_task
from embkit.evaluate.report import run_task

from corpora import DATA

REPO = Path(__file__).resolve().parents[2]


def invoke(*args, code: int = 0):
    """Run a command in this process, where GloVe stays loaded between calls."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == code, (result.output, result.exception)
    return result


def fails(*args) -> str:
    """Run `embkit ARGS` as a real process that must fail; return its one-line error."""
    proc = subprocess.run([sys.executable, "-m", "embkit.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=REPO, check=False)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def data() -> Path:
    return DATA


def test_analogy_json_and_table():
    out = json.loads(invoke("analogy", "king", "man", "woman", "-k", "3", "--json").stdout)
    assert out["query"] == {"a": "king", "b": "man", "c": "woman"} and out["model"] == "glove-50d"
    first = out["results"][0]
    assert (first["rank"], first["word"]) == (1, "queen") and len(out["results"]) == 3
    table = invoke("analogy", "paris", "france", "italy", "-k", "2").stdout.splitlines()
    assert table[0] == "paris - france + italy:" and table[1].endswith("rome")


def test_neighbors_from_a_word2vec_binary_file(tmp_path):
    words = ["cat", "kitten", "dog", "car"]
    vectors = np.array([[1, 0, 0], [0.9, 0.1, 0], [0.6, 0.8, 0], [0, 0, 1]], dtype=np.float32)
    path = tmp_path / "tiny.bin"
    path.write_bytes(b"4 3\n" + b"".join(w.encode() + b" " + struct.pack("<3f", *v) + b"\n"
                                         for w, v in zip(words, vectors)))
    out = json.loads(invoke("neighbors", "Cat", "--model", path, "-k", "3", "--json").stdout)
    assert [r["word"] for r in out["results"]] == ["kitten", "dog", "car"]
    assert out["model"] == str(path.resolve())
    assert invoke("neighbors", "frog", "-k", "3").stdout.splitlines()[1:] == [
        "   1. 0.8445  snake", "   2. 0.7938  ape", "   3. 0.7908  toad"]


def test_word_errors_name_the_word_and_the_model():
    assert fails("analogy", "king", "qwertyuiopasdf", "woman") == \
        "error: word: 'qwertyuiopasdf' is not in the vocabulary of glove-50d (400,000 words)"
    assert fails("neighbors", "king", "--model", "minilm").startswith("error: model: 'minilm' has no word vectors")
    assert "k: must be between 1 and 400,000" in fails("neighbors", "king", "-k", "0")


def test_eval_sts_report_and_table(data, tmp_path, monkeypatch):
    report_path = tmp_path / "sts.json"
    out = json.loads(invoke("eval", "sts", "--data", data / "stsb", "--model", "glove-50d", "--report", report_path,
                            "--json").stdout)
    assert json.loads(report_path.read_text()) == out
    assert out["metrics"]["spearman"] == pytest.approx(0.4181, abs=1e-3) and out["n"] == 1379
    assert out["reference"] is None and out["settings"]["similarity"] == "cosine"
    # the default --data is ../shared/data/stsb, beside the checkout: lay that out in tmp
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "shared" / "data" / "stsb").symlink_to(data / "stsb")
    (tmp_path / "checkout").mkdir()
    monkeypatch.chdir(tmp_path / "checkout")
    table = invoke("eval", "sts", "--model", "glove-50d").stdout
    assert "spearman" in table and "0.418" in table


def test_eval_classify_equals_the_library(data):
    out = json.loads(invoke("eval", "classify", "--data", data / "banking77", "--model", "glove-50d",
                            "--experiments", "2", "--json").stdout)
    expected = run_task(classify_task(data / "banking77", experiments=2), "glove-50d")
    assert out["metrics"] == expected["metrics"] and out["settings"]["experiments"] == 2
    assert set(out["metrics"]) == {"accuracy", "macro_f1", "accuracy_std", "macro_f1_std"}


def test_eval_cluster_table(data):
    table = invoke("eval", "cluster", "--data", data / "banking77", "--model", "glove-50d", "--runs", "1").stdout
    assert table.startswith("banking77 [test] n=3080, model glove-50d") and "v_measure" in table


def test_eval_errors(tmp_path):
    assert fails("eval", "sts", "--data", tmp_path, "--model", "glove-50d") == \
        f"error: data: {tmp_path / 'sts-test.csv'} not found (expected the STS Benchmark folder with sts-test.csv)"
    assert "split: must be one of train, dev, test" in fails("eval", "sts", "--split", "nope")
    # refused before embedding, not after it (as a FileNotFoundError)
    missing = tmp_path / "no-such-folder" / "report.json"
    assert fails("eval", "sts", "--model", "glove-50d", "--report", missing) == \
        f"error: report: cannot write {missing} (its folder does not exist)"
    assert fails("eval", "sts", "--model", "glove-50d", "--report", tmp_path) == \
        f"error: report: cannot write {tmp_path} (a folder)"


def test_collection_on_glove(tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text("\n".join(json.dumps({"id": i, "text": t}) for i, t in [
        ("cat", "The cat sat on the mat"), ("stocks", "Stock markets fell sharply today"),
        ("kitten", "A kitten is sleeping on a rug")]) + "\n")
    invoke("init", tmp_path / "c", "--model", "glove-50d")
    invoke("add", tmp_path / "c", docs)  # a static model reads whole texts: nothing is chunked
    with embkit.open(tmp_path / "c") as col:  # whole documents: no `#0` chunk ids
        assert sorted(d.id for d in col.get(where={})) == ["cat", "kitten", "stocks"]
    hits = json.loads(invoke("search", tmp_path / "c", "shares dropped on wall street", "-k", "1", "--json").stdout)
    assert hits["hits"][0]["id"] == "stocks"
