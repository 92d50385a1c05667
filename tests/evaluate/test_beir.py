"""BEIR reader: the real SciFact and Cranfield folders, then each bad-input error on tiny folders."""

import re
from pathlib import Path

import pytest

from embkit.errors import EmbkitError
from embkit.evaluate import BeirData, load_beir
from embkit.evaluate.beir import content_hash

from corpora import DATA

HEADER = "query-id\tcorpus-id\tscore\n"


def _real(name: str) -> Path:
    folder = DATA / name
    return folder


def test_scifact_test_and_train():
    test = load_beir(_real("scifact"))
    assert isinstance(test, BeirData) and test.split == "test"
    assert len(test.corpus) == 5183
    assert len(test.queries) == len(test.qrels) == 300
    assert sum(map(len, test.qrels.values())) == 339
    assert test.qrels["1"] == {"31715818": 1}
    assert test.queries["1"] == "0-dimensional biomaterials show inductive properties."
    doc = test.corpus["4983"]
    assert test.doc_text("4983") == f"{doc['title']} {doc['text']}"
    assert test.doc_text("4983").startswith("Microstructural development of human newborn cerebral white matter")

    train = load_beir(_real("scifact"), split="train")
    assert len(train.queries) == len(train.qrels) == 809
    assert sum(map(len, train.qrels.values())) == 919
    assert not set(train.queries) & set(test.queries)  # each split keeps only its own queries


def test_cranfield_graded():
    data = load_beir(_real("cranfield"))
    assert (len(data.corpus), len(data.queries)) == (1400, 225)
    gains = [g for judged in data.qrels.values() for g in judged.values()]
    assert len(gains) == 1612 and set(gains) == {1, 2, 3, 4}


def test_content_hash():
    folder = _real("scifact")
    digest = content_hash(folder, "test")
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert content_hash(folder, "test") == digest
    assert content_hash(folder, "train") != digest


def make(root: Path, corpus=None, queries=None, qrels=None, split="test") -> Path:
    """A tiny BEIR folder: 2 docs, 2 queries, 2 qrels rows unless told otherwise (None = default, False = absent)."""
    default_corpus = '{"_id": "d1", "title": "T", "text": "one"}\n{"_id": "d2", "title": "", "text": "two"}\n'
    default_queries = '{"_id": "q1", "text": "first?"}\n{"_id": "q2", "text": "second?"}\n'
    files = {
        "corpus.jsonl": default_corpus if corpus is None else corpus,
        "queries.jsonl": default_queries if queries is None else queries,
        f"qrels/{split}.tsv": HEADER + "q1\td1\t1\nq2\td2\t2\n" if qrels is None else qrels,
    }
    for name, text in files.items():
        if text is not False:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text, encoding="utf-8")
    return root


def test_tiny_folder_and_doc_text(tmp_path):
    data = load_beir(make(tmp_path))
    assert data.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2}}
    assert data.doc_text("d1") == "T one"
    assert data.doc_text("d2") == "two"  # empty title: no leading space
    with pytest.raises(EmbkitError, match="docid: 'nope'"):
        data.doc_text("nope")
    before = content_hash(tmp_path)
    (tmp_path / "qrels" / "test.tsv").write_text(HEADER + "q1\td1\t1\nq2\td2\t1\n")
    assert content_hash(tmp_path) != before


def test_missing_folder_and_files(tmp_path):
    with pytest.raises(EmbkitError, match=f"folder: {re.escape(str(tmp_path / 'nope'))} does not exist"):
        load_beir(tmp_path / "nope")
    with pytest.raises(EmbkitError, match=r"corpus\.jsonl: file not found"):
        load_beir(make(tmp_path / "a", corpus=False))
    with pytest.raises(EmbkitError, match=r"queries\.jsonl: file not found"):
        load_beir(make(tmp_path / "b", queries=False))
    with pytest.raises(EmbkitError, match=r"split: .*qrels/dev\.tsv not found; splits available: test$"):
        load_beir(make(tmp_path / "c"), split="dev")
    with pytest.raises(EmbkitError, match=r"qrels/dev\.tsv not found; splits available: none"):
        content_hash(make(tmp_path / "d", qrels=False), "dev")


def _raises(folder: Path, pattern: str) -> None:
    with pytest.raises(EmbkitError, match=pattern):
        load_beir(folder)


def test_bad_jsonl(tmp_path):
    bad_line = '{"_id": "d1", "text": "one"}\n{"_id": "d2", "text": \n'
    _raises(make(tmp_path / "a", corpus=bad_line), r"corpus\.jsonl:2: bad JSON")
    no_id = '{"_id": "d1", "text": "one"}\n\n{"title": "x", "text": "two"}\n'  # blank lines still count
    _raises(make(tmp_path / "b", corpus=no_id), r"corpus\.jsonl:3: missing '_id'")
    _raises(make(tmp_path / "c", queries='{"_id": "q1"}\n'), r"queries\.jsonl:1: missing 'text'")
    _raises(make(tmp_path / "d", queries='["q1", "x"]\n'), r"queries\.jsonl:1: expected a JSON object")
    dup = '{"_id": "d1", "text": "one"}\n{"_id": "d1", "text": "two"}\n'
    _raises(make(tmp_path / "e", corpus=dup), r"corpus\.jsonl:2: duplicate _id 'd1'")
    _raises(make(tmp_path / "f", corpus='{"_id": "d1", "text": 5}\n'), r"corpus\.jsonl:1: 'text' must be a string")
    _raises(make(tmp_path / "g", corpus=""), r"corpus\.jsonl: no records")
    (make(tmp_path / "h") / "corpus.jsonl").write_bytes(b'{"_id": "d1", "text": "\xff"}\n')
    _raises(tmp_path / "h", r"corpus\.jsonl:1: not valid UTF-8")


def test_bad_qrels(tmp_path):
    _raises(make(tmp_path / "a", qrels="qid\tdocid\tscore\nq1\td1\t1\n"), r"qrels/test\.tsv:1: header must be")
    _raises(make(tmp_path / "b", qrels=HEADER + "q1\td1\n"), r"qrels/test\.tsv:2: expected 3 tab-separated fields")
    _raises(make(tmp_path / "c", qrels=HEADER + "q1\td1\thigh\n"), r"qrels/test\.tsv:2: score 'high' is not an integer")
    _raises(make(tmp_path / "d", qrels=HEADER), r"qrels/test\.tsv: split 'test' has no qrels rows")
    _raises(make(tmp_path / "e", qrels=""), r"qrels/test\.tsv: split 'test' has no qrels rows")
    conflict = HEADER + "q1\td1\t1\nq1\td1\t2\n"
    _raises(make(tmp_path / "f", qrels=conflict), r"qrels/test\.tsv:3: conflicting score for query 'q1'")


def test_qrels_pointing_at_unknown_ids(tmp_path):
    rows = HEADER + "q1\td1\t1\nq9\td1\t1\nq9\td2\t1\n"
    _raises(
        make(tmp_path / "a", qrels=rows),
        r"qrels/test\.tsv:3: query 'q9' is not in .*queries\.jsonl; 2 qrels row\(s\) name an unknown query$",
    )
    rows = HEADER + "q1\td1\t1\nq2\tgone\t1\n"
    _raises(
        make(tmp_path / "b", qrels=rows),
        r"qrels/test\.tsv:3: document 'gone' is not in .*corpus\.jsonl; 1 qrels row\(s\) name an unknown document$",
    )
