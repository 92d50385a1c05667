"""GET /collections/{name}/view?id=: the whole document a hit came from, as the web page
shows it (issue 20, item 2), over a real `embkit serve` with `--source-root`. The text
rebuilt from a chunked 3,000-token markdown file is exactly the visible text ingest read;
the chunks' offsets cut it into their stored texts; a chunk id opens its document with
that passage marked; markdown is rendered from the file only under the source root and
only while the file still reads as the stored text; raw HTML never becomes an element."""

import json
import random
from pathlib import Path

import pytest

import embkit
from embkit.encoders.tokenizer_files import encoder_tokenizer
from embkit.ingest.markdown import markdown_visible
from embkit.server.whole_document import rebuild

from live_server import LiveServer, embkit_cli

NAME = "site"
PHOTOS = "photos"  # a collection with an image space
LONG = "docs/guide/long.md"
SHORT = "docs/short.md"
HOSTILE = "docs/hostile.md"
CHANGED = "docs/changed.md"
NOTES = "notes.txt"
LOG = "log.txt"  # a long plain text file
OUTSIDE = "outside.md"  # added from outside the folder served as --source-root
NEEDLE = "The aardvark quartermaster recalibrated the zeppelin's marmalade gyroscope."
WORDS = ("index vector search embedding model chunk token query filter metadata store page server collection "
         "keyword dense hybrid rerank cluster document section heading folder file answer reader writer cache "
         "snapshot replica shard worker batch limit").split()
ALLOWED_TAGS = {"div", "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "pre", "code", "em",
                "strong", "s", "a", "table", "thead", "tbody", "tr", "th", "td", "hr", "br", "span", "mark"}


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 15))).capitalize() + "."


def long_markdown() -> str:
    """A documentation page of over 3,000 tokens: front matter, headings, inline HTML,
    an admonition, lists, code, a table, links and an image."""
    rng = random.Random(20)
    lines = ["---", "title: The long guide", "---", "", "# Guide", ""]
    for part in range(10):
        lines += [f"## Part {part}", ""]
        for _ in range(3):
            words = " ".join(sentence(rng) for _ in range(5))
            lines += [f'{words} See <a href="https://example.com" target="_blank">the <b>site</b></a> and *emphasis* '
                      f"and `code {part}` and [a link](https://example.com/{part}).", ""]
        lines += ["!!! note", f"    {sentence(rng)}", "", f"- first {sentence(rng)}", f"- second {sentence(rng)}", "",
                  "```console", f'$ embkit <font color="#4E9A06">search</font> {part}', "```", "",
                  "| option | meaning |", "|---|---|", f"| `--k` | ![results {part}](k.png) {sentence(rng)} |", ""]
        if part == 6:
            lines += [NEEDLE, ""]
    return "\n".join(lines)


HOSTILE_MD = """# Hostile

<script>alert('block')</script>

Inline <script>alert('inline')</script> and <img src=x onerror="alert('img')"> and
[a javascript link](javascript:alert('link')) and 1 < 2 & 3 > 2.

<div onclick="alert('div')">A block of <b>HTML</b></div>
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory, minilm):
    """A folder of markdown and text added with `add_files` (as `embkit add` does), one
    file outside the served root, one file changed after it was added; then a server."""
    work = tmp_path_factory.mktemp("document-view")
    root = work / "root"
    files = {LONG: long_markdown(), SHORT: "# Short\n\nA short page about *caching*.\n",
             HOSTILE: HOSTILE_MD, CHANGED: "# Changed\n\nThe first version of this page.\n",
             NOTES: "Plain notes.\n\nA second paragraph of plain notes.\n",
             LOG: "\n\n".join(" ".join(sentence(random.Random(i)) for _ in range(6)) for i in range(40)) + "\n"}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (work / OUTSIDE).write_text("# Outside\n\nA page from outside the root.\n")
    with embkit.create(work / NAME) as col:
        col.add_files([str(root / name) for name in files])  # absolute sources, under the root
        col.add_files([str(work / OUTSIDE)])
    (root / CHANGED).write_text("# Changed\n\nThe second version of this page, edited since.\n")
    photos(work)
    server = LiveServer([str(work / NAME), str(work / PHOTOS), "--no-auth", "--source-root", str(root)],
                        work / "server.log", env={"HF_HUB_OFFLINE": "1"})
    try:
        with server.client() as client:
            yield client, root, files
    finally:
        assert server.stop() == 0


def photos(work: Path) -> None:
    """A collection holding one picture (a tiny random CLIP reads it)."""
    pytest.importorskip("torch")
    from PIL import Image

    from clip_maker import make_tiny_clip

    Image.new("RGB", (64, 48), (0, 120, 200)).save(work / "sky.png")
    with embkit.create(work / PHOTOS, model="minilm", image_model=str(make_tiny_clip(work / "tiny-clip"))) as col:
        col.add_images([str(work / "sky.png")], ids=["sky"])


def view(client, doc_id: str, collection: str = NAME) -> dict:
    r = client.get(f"/collections/{collection}/view", params={"id": doc_id})
    assert r.status_code == 200, r.text
    return r.json()


def elements(nodes):
    for node in nodes:
        if isinstance(node, list):
            yield node
            yield from elements(node[2:])


def text_of(nodes) -> str:
    return "".join(n if isinstance(n, str) else text_of(n[2:]) for n in nodes)


def marked(nodes) -> str:
    return " ".join(text_of(e[2:]) for e in elements(nodes) if e[0] == "mark")


def test_a_chunked_markdown_document_is_rebuilt_exactly_and_rendered(site, minilm):
    client, root, files = site
    source = str(root / LONG)
    visible = markdown_visible(files[LONG])[0]
    assert len(encoder_tokenizer("minilm").encode(visible, add_special_tokens=False).ids) >= 3000
    doc = view(client, source)
    assert doc["id"] == source and doc["hit"] is None
    assert doc["text"] == visible  # every character, the whitespace between chunks too
    assert doc["metadata"] == {"source": source, "title": "The long guide"}
    chunks = client.post(f"/collections/{NAME}/get", json={"ids": [source]}).json()["documents"]
    assert len(chunks) >= 10 and [c["id"] for c in doc["chunks"]] == [f"{source}#{i}" for i in range(len(chunks))]
    assert doc["chunks"][0]["start"] == 0 and doc["chunks"][-1]["end"] == len(visible)
    for place, stored in zip(doc["chunks"], chunks):
        assert place["id"] == stored["id"]
        assert (place["start"], place["end"]) == (stored["metadata"]["start"], stored["metadata"]["end"])
        assert visible[place["start"]:place["end"]] == stored["text"]
    assert doc["format"] == "markdown" and doc["rendered"] == "markdown" and doc["notes"] == []
    tags = [e[0] for e in elements(doc["body"])]
    assert tags.count("h2") == 10 and tags.count("h1") == 1 and "table" in tags and "pre" in tags and "mark" not in tags
    assert {e[0] for e in elements(doc["body"])} <= ALLOWED_TAGS
    assert "".join(text_of(doc["body"]).split()) == "".join(visible.split())  # shown is what was embedded
    links = [e[1].get("href") for e in elements(doc["body"]) if e[0] == "a"]
    assert links == [f"https://example.com/{part}" for part in range(10) for _ in range(3)]  # inline <a> dropped


def test_a_chunk_id_opens_its_document_with_the_passage_marked(site):
    client, root, files = site
    source = str(root / LONG)
    chunks = client.post(f"/collections/{NAME}/get", json={"ids": [source]}).json()["documents"]
    needle = next(c for c in chunks if NEEDLE in c["text"])
    doc = view(client, needle["id"])
    assert doc["id"] == source
    assert doc["hit"] == {"id": needle["id"], "start": needle["metadata"]["start"], "end": needle["metadata"]["end"],
                          "section": needle["metadata"]["section"]}
    assert doc["hit"]["section"] == "Guide › Part 6"
    marks = [e for e in elements(doc["body"]) if e[0] == "mark"]
    assert [m[1].get("id") for m in marks].count("hit") == 1 and marks[0][1]["id"] == "hit"
    assert "".join(marked(doc["body"]).split()) == "".join(needle["text"].split())
    for chunk in (chunks[0], chunks[-1]):  # the first and last passages are found too
        assert "".join(marked(view(client, chunk["id"])["body"]).split()) == "".join(chunk["text"].split())


def test_a_one_chunk_document_and_plain_text(site):
    client, root, files = site
    short = view(client, str(root / SHORT))
    assert short["text"] == "Short\n\nA short page about caching."
    assert short["chunks"] == [{"id": str(root / SHORT), "start": 0, "end": len(short["text"])}]
    assert short["hit"] is None and short["rendered"] == "markdown"
    assert short["body"] == [["h1", {}, "Short"], ["p", {}, "A short page about ", ["em", {}, "caching"], "."]]
    notes = view(client, str(root / NOTES))
    assert notes["format"] == notes["rendered"] == "text" and notes["notes"] == []
    assert notes["body"] == [["p", {"class": "plain"}, "Plain notes."],
                             ["p", {"class": "plain"}, "A second paragraph of plain notes."]]


def test_a_chunk_of_plain_text_is_marked_in_the_stored_text(site):
    client, root, files = site
    chunks = client.post(f"/collections/{NAME}/get", json={"ids": [str(root / LOG)]}).json()["documents"]
    assert len(chunks) >= 3
    doc = view(client, chunks[1]["id"])
    assert doc["rendered"] == "text" and doc["text"] == files[LOG].strip() and doc["notes"] == []
    assert {e[0] for e in elements(doc["body"])} == {"p", "mark"}
    assert "".join(marked(doc["body"]).split()) == "".join(chunks[1]["text"].split())


def test_raw_html_in_markdown_never_becomes_an_element(site):
    client, root, files = site
    doc = view(client, str(root / HOSTILE))
    assert doc["rendered"] == "markdown"
    found = list(elements(doc["body"]))
    assert {e[0] for e in found} <= ALLOWED_TAGS and not {"script", "img", "div"} & {e[0] for e in found[1:]}
    attributes = json.dumps([e[1] for e in found])
    assert "alert" not in attributes and "javascript" not in attributes and "onerror" not in attributes
    text = text_of(doc["body"])
    assert "1 < 2 & 3 > 2" in text and "a javascript link" in text and "A block of HTML" in text
    assert "alert('block')" not in text  # a script block has no visible text


def test_files_outside_the_root_or_changed_since_are_not_rendered(site):
    client, root, files = site
    outside = view(client, str(root.parent / OUTSIDE))
    assert outside["rendered"] == "text" and outside["text"] == "Outside\n\nA page from outside the root."
    assert outside["notes"] == [f"{root.parent / OUTSIDE} is not under a --source-root of the server: "
                                "showing the stored text"]
    assert outside["body"][0] == ["h2", {}, "Outside"]  # the chunk's section names it a heading
    changed = view(client, str(root / CHANGED))
    assert changed["rendered"] == "text" and changed["text"] == "Changed\n\nThe first version of this page."
    assert changed["notes"] == [f"{root / CHANGED} changed since it was added: showing the stored text"]


def test_a_source_path_from_a_client_never_reads_a_file_outside_the_root(site):
    client, root, files = site
    secret = root.parent / "secret.md"
    secret.write_text("# Secret\n\nKept *outside* the root.\n")
    (root / "docs" / "link.md").symlink_to(secret)
    text = "Secret\n\nKept outside the root."
    attacks = {"plain": str(secret), "dotdot": str(root / "docs" / ".." / ".." / "secret.md"),
               "symlink": str(root / "docs" / "link.md"), "relative": "../secret.md"}
    r = client.post(f"/collections/{NAME}/add", json={"documents": [
        {"id": f"attack-{name}", "text": text, "metadata": {"source": path}} for name, path in attacks.items()]})
    assert r.status_code == 201, r.text
    for name, path in attacks.items():
        doc = view(client, f"attack-{name}")
        assert doc["rendered"] == "text" and doc["text"] == text, name
        assert doc["notes"] == [f"{path} is not under a --source-root of the server: showing the stored text"]
        assert "em" not in {e[0] for e in elements(doc["body"])}


def test_an_image_document_has_no_text(site):
    client, root, files = site
    doc = view(client, "sky", PHOTOS)
    assert doc["id"] == "sky" and doc["metadata"]["image"] is True and doc["hit"] is None
    assert doc["text"] == "" and doc["body"] == [] and doc["rendered"] == "text"
    assert doc["chunks"] == [{"id": "sky", "start": 0, "end": 0}]


def test_offsets_a_client_wrote_never_blow_up_the_rebuilt_text(site):
    """A record whose metadata claims chunk offsets that disagree with its text (here
    start 10**11) is shown as it is: the view once tried to build 10**11 line breaks."""
    client, root, files = site
    bogus = {"parent": "bogus", "start": 10**11, "end": 5}
    r = client.post(f"/collections/{NAME}/add", json={"documents": [{"id": "bogus#0", "text": "Odd offsets.",
                                                                      "metadata": bogus}]})
    assert r.status_code == 201, r.text
    doc = view(client, "bogus#0", NAME)
    assert doc["text"] == "Odd offsets." and len(json.dumps(doc)) < 10_000
    assert rebuild([(10**11, "far"), (0, "near")]).startswith("near\n") and len(rebuild([(10**11, "far")])) < 100


def test_chunks_are_placed_at_their_offsets():
    text = "# One\n\nAlpha beta gamma. Delta epsilon.\n\nZeta eta theta."
    pieces = [(0, text[0:5]), (7, text[7:24]), (18, text[18:39]), (41, text[41:49]), (50, text[50:])]
    assert [p[1] for p in pieces] == ["# One", "Alpha beta gamma.", "gamma. Delta epsilon.", "Zeta eta", "theta."]
    assert rebuild(list(reversed(pieces))) == text  # overlaps kept once; gaps of 2 as a paragraph break, of 1 a space
    assert rebuild([(0, "whole")]) == "whole" and rebuild([]) == ""


def test_a_source_root_that_is_no_folder_is_refused(tmp_path):
    embkit.create(tmp_path / "empty").close()
    done = embkit_cli("serve", str(tmp_path / "empty"), "--no-auth", "--source-root", str(tmp_path / "missing"))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().splitlines()[-1].endswith(f"source_root: {tmp_path / 'missing'} is not a folder")


def test_an_unknown_id_is_a_404_with_one_line(site):
    client, root, files = site
    r = client.get(f"/collections/{NAME}/view", params={"id": "no/such/page.md#3"})
    assert r.status_code == 404
    message = r.json()["error"]["message"]
    assert message == "id: no document or chunk with id 'no/such/page.md#3'" and "\n" not in message
    assert client.get(f"/collections/{NAME}/view").status_code == 422  # the id is required
