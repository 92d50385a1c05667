"""The web page opens the whole document a hit came from (issue 20, item 2), in a real
browser: a long markdown page added with chunking, a real `embkit serve --source-root`,
Debian's Chromium driven by Playwright. Searching for a passage deep in the page and
clicking the hit shows the whole page rendered (headings, lists, code, a table), the
hit's passage marked and scrolled into view, raw HTML inert; "Back to results" returns
to the same results. A screenshot goes to tests/artifacts/ (git-ignored)."""

import random
from pathlib import Path

import pytest

import embkit

from corpora import REPO
from live_server import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "tests" / "artifacts"
NAME = "handbook"
PAGE = "docs/handbook.md"
PARTS = 8
NEEDLE = "The aardvark quartermaster recalibrated the zeppelin's marmalade gyroscope at dawn."
QUERY = "aardvark quartermaster zeppelin marmalade gyroscope"
WORDS = ("index vector search embedding model chunk token query filter metadata store page server collection "
         "keyword dense hybrid rerank cluster document section heading folder file answer reader").split()

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium "
                                                                "(apt-get install chromium)")


def handbook() -> str:
    """About 2,500 tokens of markdown; the needle in part 5 (of 0..7)."""
    rng = random.Random(7)

    def sentence() -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 14))).capitalize() + "."

    lines = ["---", "title: The handbook", "---", "", "# Handbook", ""]
    for part in range(PARTS):
        lines += [f"## Chapter {part}", ""]
        for _ in range(3):
            words = " ".join(sentence() for _ in range(5))
            lines += [f"{words} Some **strong** words, <b>inline html</b>, `code {part}`.", ""]
        if part == 5:
            lines += [NEEDLE + " " + sentence(), ""]
        lines += [f"- a list item {sentence()}", f"- another one {sentence()}", "", "```python",
                  f"print('chapter {part}')  # <script>alert(1)</script>", "```", "",
                  "| option | meaning |", "|---|---|", f"| `--k{part}` | {sentence()} |", "",
                  "<script>document.title = 'owned'</script>", ""]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def served(tmp_path_factory, minilm):
    work = tmp_path_factory.mktemp("web-document")
    root = work / "site"
    (root / PAGE).parent.mkdir(parents=True)
    (root / PAGE).write_text(handbook())
    (root / "docs" / "other.md").write_text("# Other\n\nA short page about caching and replicas.\n")
    source = str(root / PAGE)
    with embkit.create(work / NAME) as col:
        col.add_files([str(root / "docs")])
        chunks = col.get([source])
        hits = col.search(QUERY, k=10, mode="keyword")
    needle = next(c for c in chunks if NEEDLE in c.text)
    assert len(chunks) >= 8 and hits[0].id == needle.id != chunks[0].id
    server = LiveServer([str(work / NAME), "--no-auth", "--source-root", str(root)], work / "server.log",
                        env={"HF_HUB_OFFLINE": "1"})
    try:
        yield server.url, source, [c.id for c in chunks], [h.id for h in hits]
    finally:
        assert server.stop() == 0


def test_a_hit_opens_its_whole_document_rendered_with_the_passage_marked(page, served):
    from playwright.sync_api import expect

    url, source, chunk_ids, hit_ids = served
    page.goto(url + "/")
    expect(page.locator("#collection-select")).to_have_value(NAME)
    # two pages, one of them in many chunks: the header counts documents, and chunks apart
    expect(page.locator("#collection-info")).to_contain_text(f"2 documents · {len(chunk_ids) + 1} chunks")
    page.click("#mode-keyword")
    page.fill("#search-input", QUERY)
    page.press("#search-input", "Enter")
    expect(page.locator("#results[data-state=done] .result .doc-id")).to_have_text(hit_ids)

    page.locator("#results .result .doc-id").first.click()
    view = page.locator("#doc-view")
    expect(view).to_have_attribute("data-state", "done")
    expect(view).to_have_attribute("data-id", source)
    expect(view).to_have_attribute("data-rendered", "markdown")
    expect(page.locator("#results-area")).to_be_hidden()
    expect(page.locator("#doc-view-title")).to_have_text("The handbook")
    at = chunk_ids.index(hit_ids[0])
    expect(page.locator("#doc-view-passage")).to_have_text(
        f"passage {at + 1} of {len(chunk_ids)} · Handbook › Chapter 5")

    body = page.locator("#doc-view-body")
    expect(body.locator("h1")).to_have_text(["Handbook"])
    expect(body.locator("h2")).to_have_text([f"Chapter {i}" for i in range(PARTS)])  # the whole document
    expect(body.locator("table")).to_have_count(PARTS)
    expect(body.locator("ul > li")).to_have_count(2 * PARTS)
    expect(body.locator("pre code").first).to_have_text("print('chapter 0')  # <script>alert(1)</script>")
    expect(body.locator("strong").first).to_have_text("strong")
    assert body.locator("script, b, img, iframe").count() == 0 and page.title() == "embkit"  # raw HTML inert

    marks = body.locator("mark.hit")
    assert marks.count() > 1 and body.locator("#hit").count() == 1
    marked = "".join(marks.all_inner_texts())
    assert "".join(NEEDLE.split()) in "".join(marked.split())
    assert "Chapter 4" not in marked and "Chapter 6" not in marked  # one passage, not the page
    expect(page.locator("#hit")).to_be_in_viewport()  # scrolled to it
    assert page.evaluate("window.scrollY") > 500  # deep in the page, not at its top
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web_document_view.png"))

    page.click("#doc-back")
    expect(view).to_be_hidden()
    expect(page.locator("#results-area")).to_be_visible()
    expect(page.locator("#results[data-state=done] .result .doc-id")).to_have_text(hit_ids)
