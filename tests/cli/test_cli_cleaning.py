"""`embkit outliers | dedupe | recommend | drift` as real processes on a small real
collection: JSON and readable output, dry run vs --delete, one-line errors that
change nothing."""

import csv
import json
import shutil

import pytest

import embkit
import embkit.cli.cleaning  # registers the commands (cli/__init__ imports it too)

from corpora import DATA
from test_cli import fails, run

ODD = {"code": "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }",
       "french": "Le petit chat dort sur le canapé rouge depuis ce matin.",
       "digits": "4417 1234 5678 9012 0031 7785 2290"}


@pytest.fixture(scope="module")
def built(tmp_path_factory, minilm):
    """120 BANKING77 queries of three intents, 3 off-topic texts, and upper-cased
    copies of 4 queries (cosine 1 with MiniLM, which is uncased)."""
    path = DATA / "banking77" / "test.csv"
    with open(path, encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["category"] in ("card_arrival", "exchange_rate", "top_up_failed")]
    texts = list(dict.fromkeys(r["text"] for r in rows))[:120]
    category = {r["text"]: r["category"] for r in rows}
    docs = [(f"q{i}", t, {"category": category[t], "batch": "old" if i < 60 else "new"}) for i, t in enumerate(texts)]
    docs += [(name, text, {"category": "odd", "batch": "new"}) for name, text in ODD.items()]
    docs += [(f"copy{i}", texts[i].upper(), {"category": category[texts[i]], "batch": "new"}) for i in (3, 40, 77, 101)]
    folder = tmp_path_factory.mktemp("cleaning") / "c"
    with embkit.create(folder, model="minilm") as c:
        c._encoder = minilm
        ids, texts, metas = zip(*docs)
        c.add(list(texts), ids=list(ids), metadatas=list(metas))
    return folder


@pytest.fixture
def col(tmp_path, built):
    """A private copy: some tests delete."""
    shutil.copytree(built, tmp_path / "c")
    return tmp_path / "c"


def state(path):
    with embkit.open(path) as c:
        return c.count(), c.info()["generation"]


def test_outliers_json_and_text(built):
    out = json.loads(run("outliers", built, "--top", "3", "--json").stdout)
    assert {r["id"] for r in out["results"]} == set(ODD)
    assert all(set(r) == {"id", "score", "text", "metadata"} for r in out["results"])
    lof = json.loads(run("outliers", built, "--top", "3", "--method", "lof", "--k", "8", "--json").stdout)
    scores = [r["score"] for r in lof["results"]]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True) and scores[0] > 1.2
    text = run("outliers", built, "--top", "2", "--where", '{"batch": "old"}').stdout
    assert text.startswith("  1. ") and "  2. " in text and "odd" not in text


def test_dedupe_dry_run_then_delete(col):
    before = state(col)
    dry = json.loads(run("dedupe", col, "--threshold", "0.99", "--json").stdout)
    assert state(col) == before and dry["dry_run"] and dry["deleted"] == 0
    pairs = {frozenset((f"q{i}", f"copy{i}")) for i in (3, 40, 77, 101)}
    assert pairs <= {frozenset(g["ids"]) for g in dry["groups"]}
    assert {g["keep"] for g in dry["groups"]} == set(dry["keep"]) and "copy3" in dry["delete"]
    text = run("dedupe", col, "--threshold", "0.99").stdout
    assert "dry run: would delete" in text and "keep   q3" in text and "delete copy3" in text
    done = run("dedupe", col, "--threshold", "0.99", "--delete", "--keep", "first").stdout
    assert f"deleted {len(dry['delete'])} document(s)" in done
    assert state(col)[0] == before[0] - len(dry["delete"])
    assert json.loads(run("dedupe", col, "--threshold", "0.99", "--json").stdout)["groups"] == []


def test_dedupe_bad_input_deletes_nothing(col):
    before = state(col)
    assert "threshold: must be a cosine similarity from -1 to 1, got 1.2" in fails("dedupe", col, "--threshold",
                                                                                  "1.2", "--delete")
    assert "keep: must be one of first, longest, got 'last'" in fails("dedupe", col, "--keep", "last", "--delete")
    assert "no document has the field 'lang'" in fails("dedupe", col, "--where", '{"lang": "en"}', "--delete")
    assert state(col) == before


def test_recommend_leaves_out_what_was_seen(built):
    args = ["recommend", built, "--liked", "q0", "--liked", "q1", "--disliked", "q2", "--exclude", "q4", "-k", "6"]
    out = json.loads(run(*args, "--json").stdout)
    got = [r["id"] for r in out["results"]]
    assert len(got) == 6 and not {"q0", "q1", "q2", "q4"} & set(got)
    seen = json.loads(run("recommend", built, "--liked", "q0", "-k", "3", "--include-seen", "--json").stdout)
    assert seen["results"][0]["id"] == "q0"
    diverse = json.loads(run(*args, "--mmr", "0.5", "--json").stdout)
    assert not {"q0", "q1", "q2", "q4"} & {r["id"] for r in diverse["results"]}
    assert "  1. " in run(*args).stdout
    assert "liked: no document with id 'nobody'" in fails("recommend", built, "--liked", "nobody")


def test_drift_two_slices_and_two_collections(tmp_path, built):
    out = json.loads(run("drift", built, "--where", '{"category": "card_arrival"}', "--other-where",
                         '{"category": "exchange_rate"}', "--clusters", "4", "--json").stdout)
    assert out["p_value"] < 0.01 and 0 < out["centroid_shift"] < 1 and len(out["cluster_shares"]) == 4
    plot = tmp_path / "drift.png"
    text = run("drift", built, "--where", '{"batch": "old"}', "--other-where", '{"batch": "new"}', "--plot",
               plot).stdout
    assert "centroid cosine" in text and "MMD²" in text and f"plot: {plot}" in text
    assert plot.read_bytes()[:4] == b"\x89PNG"
    other = tmp_path / "other"
    with embkit.open(built) as c, embkit.create(other, model="minilm") as o:
        t = c.table({"category": "odd"})
        o.add(t.texts, ids=t.ids, vectors=t.vectors)
    two = json.loads(run("drift", built, other, "--clusters", "2", "--json").stdout)
    assert (two["n_a"], two["n_b"]) == (127, 3)
    assert "other_where: {\"category\": \"odd\"} matches no documents in B (other); no document has the field " \
           "'category'" in fails("drift", built, other, "--other-where", '{"category": "odd"}')


def test_drift_errors(built):
    assert "where: with one collection, give both --where" in fails("drift", built, "--where", '{"batch": "old"}')
    assert "other_where: " in fails("drift", built, "--where", '{"batch": "old"}', "--other-where",
                                    '{"batch": "future"}')


def test_outliers_k_larger_than_the_collection(built):
    assert "k: must be an integer from 1 to 126 (the collection has 127 documents), got 500" in \
        fails("outliers", built, "--k", "500")
