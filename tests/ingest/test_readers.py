"""Readers on files the tests write: txt/md, html, parquet, and the unchanged jsonl/csv."""

import datetime
import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embkit.errors import EmbkitError
from embkit.ingest import UnreadableFile, read_source
from embkit.ingest.html import html_text

PAGE = """<!DOCTYPE html>
<html><head><title>  Caf&eacute; &amp; Bar  </title>
<meta charset="utf-8"><style>body { color: red }</style>
<script>var hidden = "<p>not shown</p>"; if (a < b && c > d) {}</script></head>
<body><noscript>Please enable JavaScript</noscript>
<h1>Menu &lt;today&gt;</h1>
<p>Fresh   bread
and <b>coffee</b> &#8212; every morning.<br>Closed on Mondays&nbsp;only.</p>
<template><p>template text</p></template>
<ul><li>Espresso</li><li>Croissant &euro;2</li></ul>
<!-- a comment --><div>Footer</div></body></html>"""


def test_txt_and_md_are_one_document_each(tmp_path):
    for name in ("a.txt", "b.md", "c.markdown"):
        (tmp_path / name).write_text("# Heading\n\nSome text.\n")
        batch = read_source(str(tmp_path / name))
        assert batch.ids == [str(tmp_path / name)] and batch.metadatas == [{"source": str(tmp_path / name)}]
        assert batch.pages == [None]
        if name == "a.txt":  # plain text as it is; markdown as its visible text, its heading a section
            assert batch.texts == ["# Heading\n\nSome text.\n"] and batch.sections == [None]
        else:
            assert batch.texts == ["Heading\n\nSome text."] and batch.sections == [[(0, "Heading")]]
    (tmp_path / "blank.txt").write_text(" \n\t")
    with pytest.raises(UnreadableFile, match=r"blank\.txt: no text found"):
        read_source(str(tmp_path / "blank.txt"))
    (tmp_path / "latin.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(UnreadableFile, match=r"latin\.txt: not UTF-8 text"):
        read_source(str(tmp_path / "latin.txt"))


def test_html_visible_text_only(tmp_path):
    (tmp_path / "page.html").write_text(PAGE)
    batch = read_source(str(tmp_path / "page.html"))
    text, meta = batch.texts[0], batch.metadatas[0]
    assert meta == {"source": str(tmp_path / "page.html"), "title": "Café & Bar"}
    # whitespace runs (&nbsp; included) become one space, as a browser shows them
    assert text == ("Menu <today>\n\nFresh bread and coffee — every morning.\nClosed on Mondays only.\n\n"
                    "Espresso\nCroissant €2\n\nFooter")
    for hidden in ("color", "hidden", "not shown", "JavaScript", "template text", "comment", "Café"):
        assert hidden not in text


def test_html_head_left_open_and_charsets(tmp_path):
    assert html_text("<html><head><title>T</title><link rel=x><body><p>Body text.</p>") == ("Body text.", "T")
    assert html_text("<p>one</p><p>two</p><br><br>three") == ("one\n\ntwo\n\nthree", None)
    declared = '<meta charset="iso-8859-1"><p>caf\xe9</p>'.encode("latin-1")
    (tmp_path / "old.htm").write_bytes(declared)
    assert read_source(str(tmp_path / "old.htm")).texts == ["café"]
    (tmp_path / "bad.htm").write_bytes(b"<p>caf\xe9</p>")
    with pytest.raises(UnreadableFile, match=r"bad\.htm: not UTF-8 text .* no usable <meta charset>"):
        read_source(str(tmp_path / "bad.htm"))
    (tmp_path / "empty.html").write_text("<html><head><title>Only a title</title></head><script>x()</script></html>")
    with pytest.raises(UnreadableFile, match="no text found"):
        read_source(str(tmp_path / "empty.html"))


def test_parquet_rows(tmp_path):
    table = pa.table({
        "id": [10, 11, 12], "body": ["First row.", "Second row.", "Third row."],
        "year": [2020, None, 2022], "score": [0.5, math.nan, 1.5], "tags": [["a"], ["b"], []],
        "day": [datetime.date(2024, 1, 2)] * 3, "ok": [True, False, True],
        "source": [None, "elsewhere.txt", None]})
    pq.write_table(table, tmp_path / "rows.parquet")
    batch = read_source(str(tmp_path / "rows.parquet"), text_column="body")
    assert batch.ids == ["10", "11", "12"] and batch.texts == ["First row.", "Second row.", "Third row."]
    assert batch.metadatas[0] == {"year": 2020, "score": 0.5, "day": "2024-01-02", "ok": True}
    assert batch.metadatas[1] == {"day": "2024-01-02", "ok": False, "source": "elsewhere.txt"}  # null, NaN left out
    assert batch.where(2) == f"{tmp_path / 'rows.parquet'}:3"
    with pytest.raises(EmbkitError, match=r"rows\.parquet:1: no column 'text' \(columns: id, body, .*--text-column"):
        read_source(str(tmp_path / "rows.parquet"))


@pytest.mark.parametrize("column, message", [
    ({"text": ["fine", None]}, r"p\.parquet:2: missing field 'text'"),
    ({"text": ["fine", "  "]}, r"p\.parquet:2: field 'text' is empty"),
    ({"text": ["fine", "again"], "id": ["a", "a"]}, r"p\.parquet:2: duplicate id 'a' \(first on line 1\)"),
    ({"text": [1, 2]}, r"p\.parquet:1: field 'text' must be a string"),
])
def test_parquet_bad_rows_name_file_and_row(tmp_path, column, message):
    pq.write_table(pa.table(column), tmp_path / "p.parquet")
    with pytest.raises(EmbkitError, match=message) as e:
        read_source(str(tmp_path / "p.parquet"))
    assert not isinstance(e.value, UnreadableFile)  # a bad record rejects the batch; not a skippable file


def test_corrupt_parquet_and_unknown_format(tmp_path):
    pq.write_table(pa.table({"text": ["a", "b"]}), tmp_path / "p.parquet")
    (tmp_path / "cut.parquet").write_bytes((tmp_path / "p.parquet").read_bytes()[:40])
    with pytest.raises(UnreadableFile, match=r"cut\.parquet: not a readable parquet file"):
        read_source(str(tmp_path / "cut.parquet"))
    (tmp_path / "x.docx").write_bytes(b"PK")
    with pytest.raises(UnreadableFile, match=r"x\.docx: unknown format '\.docx' \(known: .*\.html.*\.parquet, \.pdf"):
        read_source(str(tmp_path / "x.docx"))
    with pytest.raises(EmbkitError, match="no such file"):
        read_source(str(tmp_path / "absent.txt"))


def test_jsonl_and_csv_unchanged(tmp_path):
    (tmp_path / "d.jsonl").write_text('{"id": 1, "text": "one", "k": "v", "metadata": {"m": 2}}\n\n{"text": "two"}\n')
    batch = read_source(str(tmp_path / "d.jsonl"))
    assert batch.ids == ["1", f"{tmp_path / 'd.jsonl'}:1"]  # a record without an id: <file>:<row>, row from 0
    assert batch.metadatas == [{"k": "v", "m": 2}, {}] and batch.lines == [1, 3]
    (tmp_path / "d.csv").write_text("key,body\nr1,hello\nr2,\n")
    with pytest.raises(EmbkitError, match=r"d\.csv:3: field 'body' is empty"):
        read_source(str(tmp_path / "d.csv"), text_column="body", id_column="key")
