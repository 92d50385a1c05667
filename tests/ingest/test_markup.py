"""Markdown and HTML are embedded and keyword-indexed as their visible text: no inline
tags, link targets, image syntax, fence or admonition markers, front matter or include
directives; chunks cut before headings and carry the heading path as `section`."""

import json
import subprocess
import sys

import pytest

import embkit
from embkit.ingest import chunk_records, read_source
from embkit.ingest.html import html_visible
from embkit.ingest.markdown import markdown_visible


def text(markup: str) -> str:
    return markdown_visible(markup)[0]


@pytest.mark.parametrize("markup, expected", [
    # inline HTML: tags gone, inner text kept; <br> a line break; comments gone
    ('Run <a href="https://x.org/run" target="_blank">the runner</a> now.', "Run the runner now."),
    ('<font color="#f00">Red</font> and <span style="color: green;">green</span> <b>bold</b>.',
     "Red and green bold."),
    ("One<br>two <!-- hidden --> <kbd>Ctrl</kbd>+<kbd>C</kbd>", "One\ntwo  Ctrl+C"),
    # links: the text, never the target; reference definitions vanish; autolinks are visible text
    ('See [the guide](https://x.org/guide "Guide title") and [ref][r].\n\n[r]: https://x.org/r',
     "See the guide and ref."),
    ("Mail <https://x.org/help>.", "Mail https://x.org/help."),
    # images: the alt text (what a screen reader or a missing picture shows), attributes dropped
    ('![A cat on a mat](img/cat.png "Cat"){ width="300" }', "A cat on a mat"),
    ("Before ![](img/blank.png) after.", "Before  after."),
    ("## Setup {#setup}\n\nText {: .note } and `{x=1}` code", "Setup\n\nText and {x=1} code"),
    # code: fence markers gone, code kept as written
    ('```python\nprint("<b>x</b>")  # keep\n```', 'print("<b>x</b>")  # keep'),
    ("~~~\nplain fence\n~~~\n\n    indented code", "plain fence\n\nindented code"),
    ('```console\n$ serve\n<span style="color: green;">INFO</span>: up\n```', "$ serve\nINFO: up"),
    ('```console\n$ <font color="#4E9A06">run</font> <u style="x">main.py</u>\n<b>[&apos;/app&apos;]</b>\n```',
     "$ run main.py\n['/app']"),  # a coloured transcript is HTML: its entities decoded too
    ('```python\nFile "<stdin>", in <module>\n```', 'File "<stdin>", in <module>'),
    ('```html\n<span class="x">kept in HTML code</span>\n```', '<span class="x">kept in HTML code</span>'),
    ('`<font>` is inline code', "<font> is inline code"),
    # emphasis, lists, tables, quotes, entities
    ("*a* **b** ~~c~~ &amp; &copy;", "a b c & ©"),
    ("- one\n- two\n\n1. three", "one\ntwo\n\nthree"),
    ("| Name | Value |\n|---|---|\n| a | 1 |\n| b | 2 |", "Name Value\na 1\nb 2"),
    ("> quoted\n> text", "quoted\ntext"),
])
def test_markdown_inline_and_blocks(markup, expected):
    assert text(markup) == expected


@pytest.mark.parametrize("markup, expected", [
    # mkdocs admonitions: the title kept as a paragraph, the type dropped, the body dedented
    ('!!! note "Mind the gap"\n    Body **text**.\n\n    Second para.\n\nAfter.',
     "Mind the gap\n\nBody text.\n\nSecond para.\n\nAfter."),
    ("!!! warning\n    No title.", "No title."),
    ('??? tip "Collapsed"\n    Hidden.\n\n???+ info inline end\n    Open.', "Collapsed\n\nHidden.\n\nOpen."),
    ('!!! note "Outer"\n    !!! danger "Inner"\n        Deep.', "Outer\n\nInner\n\nDeep."),
    ('=== "Python"\n    ```python\n    x = 1\n    ```\n=== "Shell"\n    run it', "Python\n\nx = 1\n\nShell\n\nrun it"),
    ("Title\n===\n\nSetext stays a heading.", "Title\n\nSetext stays a heading."),
    # pymdown blocks: `/// name | title` ... `///`, options indented under the header
    ("/// tip | Pro tip\n    type: warning\n\nTip body.\n///\n\nAfter.", "Pro tip\n\nTip body.\n\nAfter."),
    ("/// note\nUntitled.\n///", "Untitled."),
    ('/// html | div[style="border: 1px"]\nIn a div.\n///', "In a div."),
    # `:::` containers
    ("::: warning Careful now\nBody.\n:::", "Careful now\n\nBody."),
    (":::tip[Docusaurus title]\nBody.\n:::", "Docusaurus title\n\nBody."),
    (":::{note}\n:class: dropdown\nMyST body.\n:::", "MyST body."),
    # markers inside code fences are code
    ("```text\n!!! note\n///\n:::\n```", "!!! note\n///\n:::"),
])
def test_markdown_container_markers(markup, expected):
    assert text(markup) == expected


@pytest.mark.parametrize("markup, expected", [
    ('--8<-- "snippets/abbr.md"\nText.', "Text."),
    ("Text.\n\n--8<--\nfirst.md\nsecond.md\n--8<--\n\nMore.", "Text.\n\nMore."),
    ('{% include "footer.html" %}\nText {% if x %}shown{% endif %}.', "Text shown."),
    ("{!docs/included.md!}\n{!> ../../docs_src/app.py !}\nText.", "Text."),
    ("{* ../../docs_src/first_steps/tutorial001.py hl[3] *}\n\nText.", "Text."),
    ('```python\n--8<-- "docs_src/app.py"\nprint(1)\n```', "print(1)"),
])
def test_markdown_include_directives(markup, expected):
    assert text(markup) == expected


@pytest.mark.parametrize("markup, expected, title", [
    ('---\ntitle: "Getting started"\ntags: [a, b]\n---\n\nBody.', "Body.", "Getting started"),
    ("---\nauthor: me\n---\nBody.", "Body.", None),
    ("---\ntitle: >-\n  Folded\n---\nBody.", "Body.", None),
    ("---\ntitle: 'Single quoted'\n---\nBody.", "Body.", "Single quoted"),
    ('+++\ntitle = "TOML title"\ndate = 2024-01-01\n+++\nBody.', "Body.", "TOML title"),
    ("---\n\nA thematic break first, never closed.", "A thematic break first, never closed.", None),
])
def test_front_matter(markup, expected, title):
    assert markdown_visible(markup)[:2] == (expected, title)


def test_markdown_heading_paths():
    markup = ("# Guide\n\nIntro.\n\n## Setup\n\nSet up.\n\n### Options <small>(advanced)</small>\n\nOpts.\n\n"
              "#### Deep [link](x.md)\n\nDeep.\n\n## Usage\n\nUse.\n\nAppendix\n--------\n\nEnd.\n\n"
              '<h2 align="center">In <b>HTML</b></h2>\n\n##### Skipped levels\n\nLast.')
    visible, _, sections = markdown_visible(markup)
    assert [path for _, path in sections] == [
        "Guide", "Guide › Setup", "Guide › Setup › Options (advanced)",
        "Guide › Setup › Options (advanced) › Deep link", "Guide › Usage", "Guide › Appendix", "Guide › In HTML",
        "Guide › In HTML › Skipped levels"]
    assert [visible[offset:offset + 5] for offset, _ in sections] == \
        ["Guide", "Setup", "Optio", "Deep ", "Usage", "Appen", "In HT", "Skipp"]


def test_html_heading_paths_and_text():
    page = ("<html><head><title>Manual</title></head><body><nav>Home</nav>"
            "<h1>Guide</h1><p>Intro.</p><h2 id='s'>  Set <code>up</code> </h2><p>Text <a href='#x'>here</a>.</p>"
            "<h3>Options</h3><h3></h3><p>Opts.</p><h2>Usage\ue000</h2><h6>Tiny</h6><p>End.</p></body></html>")
    visible, title, sections = html_visible(page)
    assert title == "Manual"
    assert visible == "Home\n\nGuide\n\nIntro.\n\nSet up\n\nText here.\n\nOptions\n\nOpts.\n\nUsage\n\nTiny\n\nEnd."
    assert sections == [(6, "Guide"), (21, "Guide › Set up"), (41, "Guide › Set up › Options"),
                        (57, "Guide › Usage"), (64, "Guide › Usage › Tiny")]
    assert [visible[offset:offset + 4] for offset, _ in sections] == ["Guid", "Set ", "Opti", "Usag", "Tiny"]


def test_html_table_cells_are_words():
    table = "<table><tr><th>Name</th><th>Value</th></tr><tr><td>a</td><td>1</td></tr></table>"
    assert html_visible(table)[0] == "Name Value\na 1"  # before: "NameValue\na1"
    assert html_visible("<table>\n<tr>\n<td>a</td>\n<td>1</td>\n</tr>\n</table>")[0] == "a 1"


def test_readers_store_visible_text_and_sections(tmp_path):
    (tmp_path / "a.md").write_text('---\ntitle: Page\n---\n# Top\n\n<span class="x">Hi</span> [there](t.md).\n')
    (tmp_path / "b.html").write_text("<title>T</title><h1>Head</h1><p>Body</p>")
    md, page = read_source(str(tmp_path / "a.md")), read_source(str(tmp_path / "b.html"))
    assert (md.texts, md.metadatas, md.sections) == \
        (["Top\n\nHi there."], [{"source": str(tmp_path / "a.md"), "title": "Page"}], [[(0, "Top")]])
    assert (page.texts, page.metadatas, page.sections) == \
        (["Head\n\nBody"], [{"source": str(tmp_path / "b.html"), "title": "T"}], [[(0, "Head")]])


SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank today. "


def test_chunks_cut_before_headings_and_carry_their_path(tokenizer):
    body = SENTENCE * 6  # about 90 tokens: two sections do not fit in 128
    markup = f"# Guide\n\n{body}\n\n## Setup\n\n{body}\n\n### Options\n\n{body}\n\n## Usage\n\n{body}"
    visible, _, sections = markdown_visible(markup)
    records = chunk_records("g", visible, {"source": "g.md"}, tokenizer, sections=sections, chunk_tokens=128,
                            overlap=16)
    assert [(r.id, r.metadata["section"], r.text.split("\n")[0]) for r in records] == [
        ("g#0", "Guide", "Guide"), ("g#1", "Guide › Setup", "Setup"),
        ("g#2", "Guide › Setup › Options", "Options"), ("g#3", "Guide › Usage", "Usage")]
    assert [visible[r.metadata["start"]:r.metadata["end"]] for r in records] == [r.text for r in records]
    assert all(r.text.endswith("today.") for r in records)  # no overlap across a heading


def test_long_section_chunks_keep_their_section(tokenizer):
    markup = f"Preface without heading. {SENTENCE * 2}\n\n# Long\n\n{SENTENCE * 30}"
    visible, _, sections = markdown_visible(markup)
    records = chunk_records("d", visible, {}, tokenizer, sections=sections, chunk_tokens=64, overlap=8)
    assert "section" not in records[0].metadata and records[1].text.startswith("Long")
    assert len(records) > 4 and all(r.metadata["section"] == "Long" for r in records[1:])
    short = chunk_records("s", "Top\n\nShort.", {"k": 1}, tokenizer, sections=[(0, "Top")])
    assert [(r.id, r.metadata) for r in short] == [("s", {"k": 1, "parent": "s", "section": "Top"})]


# A page the way documentation sites write them: inline HTML everywhere.
NOISY = """---
title: Deploying
---

# Deploying <font color="#e91e63">apps</font>

!!! tip "Before you start"
    Read the <a href="https://example.org/guide" target="_blank">guide</a> about
    <span style="color: green;">servers</span>.

/// note | Remember
Workers restart when <span class="hl">memory</span> grows.
///

--8<-- "snippets/terms.md"

<div class="termy">

```console
$ deploy --workers 4
<span style="color: green;">INFO</span>:     Workers started
```

</div>

""" + "\n\n".join(f"## Step {i}\n\n" + (f"Each <span style=\"color: red;\">worker</span> process handles requests; "
                                           f"see <a href=\"https://example.org/{i}\" target=\"_blank\">step {i} "
                                           f"remarks</a> on <font color=\"blue\">scaling</font> and queues. ") * 3
                  for i in range(8))
MARKUP_WORDS = {"font", "color", "span", "href", "target", "_blank", "blank", "style", "div", "termy", "class",
                "https", "exampl", "example", "snippet", "snippets", "tip", "note"}


def _check_collection(location, md: str) -> None:
    with embkit.open(location) as col:
        docs = col.get(where={"source": md})
        vocab = {t for (t,) in col._store._conn.execute("SELECT DISTINCT term FROM kw_blocks")}  # the index's terms
        terms = {t for c in col.cluster(k=2, seed=0, unit="chunk").clusters for t in c.terms}
    assert len(docs) > 2 and all(d.metadata["section"].startswith("Deploying apps") for d in docs)
    assert {"deploy", "worker", "scale", "memori", "server"} <= vocab  # stemmed visible words are there
    assert not vocab & MARKUP_WORDS and not terms & MARKUP_WORDS
    assert not any(c in d.text for d in docs for c in "<>{}!|=")


def test_no_markup_reaches_the_keyword_index_cli_and_python(tmp_path):
    (tmp_path / "docs").mkdir()
    md = tmp_path / "docs" / "deploy.md"
    md.write_text(NOISY)
    cli = subprocess.run([sys.executable, "-m", "embkit.cli", "init", tmp_path / "cli"], capture_output=True)
    assert cli.returncode == 0, cli.stderr
    cli = subprocess.run([sys.executable, "-m", "embkit.cli", "add", tmp_path / "cli", tmp_path / "docs",
                          "--chunk-tokens", "96", "--json"], capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["documents"] == 1
    _check_collection(tmp_path / "cli", str(md))
    with embkit.create(tmp_path / "py") as col:
        col.add_files([tmp_path / "docs"], chunk_tokens=96)
    _check_collection(tmp_path / "py", str(md))
    with embkit.open(tmp_path / "cli") as a, embkit.open(tmp_path / "py") as b:
        assert [(d.id, d.text, d.metadata) for d in a.get(where={"source": str(md)})] == \
            [(d.id, d.text, d.metadata) for d in b.get(where={"source": str(md)})]


def test_ray_shards_chunk_markdown_as_add_does(tmp_path, tokenizer):
    from embkit.ingest.shards import ShardSettings, ShardTask, shard_records

    body = SENTENCE * 6
    (tmp_path / "g.md").write_text(f"# Guide\n\n{body}\n\n## Setup\n\n<font color=red>{body}</font>")
    path = str(tmp_path / "g.md")
    count, records = shard_records(ShardTask(path, path, "g.parquet", {}), ShardSettings(chunk_tokens=128, overlap=16))
    batch = read_source(path)
    expected = chunk_records(path, batch.texts[0], batch.metadatas[0], tokenizer, sections=batch.sections[0],
                             source=path, chunk_tokens=128, overlap=16)
    assert count == 1 and list(zip(records.ids, records.texts, records.metadatas)) == [tuple(r) for r in expected]
    assert [m["section"] for m in records.metadatas] == ["Guide", "Guide › Setup"] and "font" not in records.texts[1]


def test_pathological_markup_reads_in_linear_time():
    # an unclosed attribute list of `a=` pairs made the old pattern backtrack exponentially;
    # a long line of unclosed `{%` made the include search quadratic
    line = "{x=" + "a=" * 5000 + " " + "{% " * 20000 + "{!" * 20000
    assert text(line).startswith("{x=a=a=")
    assert text("# H {#h .c k='v w' n=1}\n\n![alt](p.png){ width=\"3\" }") == "H\n\nalt"
