"""The web page at / end to end, in a real browser: a small real collection (MiniLM
embeddings, four topics, k-means clusters), a real `embkit serve` process with a read
key, and Debian's Chromium driven by Playwright. The page asks for the key (and again
for a wrong one), shows the hits the library gives for a query in dense and keyword
mode with the query's words marked, filters by topic, searches "more like this",
draws the map with one point per document and opens the document of a clicked point.
Screenshots go to tests/artifacts/ (git-ignored)."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import embkit

from corpora import REPO

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "tests" / "artifacts"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NAME = "webdocs"
QUERY = "search results"  # dense and keyword disagree on the top hit; "search" marks "searching"
K = 10  # the page's default number of results
KEY_STORAGE = "embkit.apiKey"  # sessionStorage entry of app.js

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium "
                                                                "(apt-get install chromium)")

TOPICS = {
    "cooking": [
        "Simmer the tomato sauce slowly with garlic and fresh basil.",
        "Knead the bread dough for ten minutes until it is smooth and elastic.",
        "Roast the chicken at high heat so the skin turns crisp and golden.",
        "A pinch of salt brings out the sweetness in caramel desserts.",
        "Whisk the eggs and sugar together before folding in the flour.",
        "Marinate the beef overnight in soy sauce, ginger and honey.",
        "Searing a steak in a hot cast iron pan creates a flavourful crust.",
        "Fresh pasta cooks in two or three minutes of boiling salted water.",
        "Chop the onions finely and fry them in butter until translucent.",
        "Slow cooked stews taste even better the next day.",
        "Season the soup with black pepper and a squeeze of lemon juice.",
        "Bake the cookies until the edges brown but the centres stay soft.",
    ],
    "astronomy": [
        "The telescope captured faint light from a galaxy billions of light years away.",
        "Jupiter's great red spot is a storm larger than the Earth.",
        "Astronomers are searching for planets orbiting distant stars.",
        "A total solar eclipse happens when the Moon hides the Sun completely.",
        "Neutron stars are the collapsed cores of massive exploded stars.",
        "The Milky Way contains hundreds of billions of stars.",
        "Saturn's rings are made of ice and rocky debris.",
        "A black hole bends light so strongly that nothing escapes from it.",
        "Meteor showers occur when the Earth passes through comet dust.",
        "The space telescope observed infrared light from newborn stars.",
        "Mars has the tallest volcano in the solar system, Olympus Mons.",
        "Radio astronomers listen for faint signals from the early universe.",
    ],
    "football": [
        "The striker scored a late goal to win the championship final.",
        "The goalkeeper saved a penalty kick in the last minute.",
        "Fans filled the stadium to watch the derby match.",
        "The coach changed tactics at half time and the team pressed higher.",
        "A red card left the home side with only ten players.",
        "The midfielder threaded a pass through the defence to the winger.",
        "The referee reviewed the offside decision on video.",
        "The club signed a young defender for a record transfer fee.",
        "Both teams played to a goalless draw in heavy rain.",
        "The captain lifted the trophy after the cup final.",
        "Training sessions focus on passing, pressing and fitness.",
        "The league table tightened after the champions lost away from home.",
    ],
    "programming": [
        "The Python function returns a sorted list of search results.",
        "Unit tests catch bugs before the code is merged.",
        "The compiler reported a type error on line forty two.",
        "A hash map gives constant time lookups for keys.",
        "Refactoring the module made the code easier to read.",
        "The database query was slow until we added an index.",
        "Git branches let developers work on features in parallel.",
        "The web server handles each request in a separate thread.",
        "Recursion solves a problem by calling the function on smaller inputs.",
        "Memory leaks appear when objects are never released.",
        "A search engine ranks documents by their relevance to the query.",
        "Debugging the crash meant reading the stack trace carefully.",
        # shown as text, never as markup
        "HTML templates must escape <script> tags, <b>bold</b> markup & quotes.",
    ],
}
TEXTS = {f"{topic[:4]}-{i:02d}": text for topic, texts in TOPICS.items() for i, text in enumerate(texts)}
TOPIC_OF = {f"{topic[:4]}-{i:02d}": topic for topic, texts in TOPICS.items() for i in range(len(texts))}
MARKUP_ID = "prog-12"


def ids(hits) -> list[str]:
    return [h.id for h in hits]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> dict:
    """The collection (built with the library, which also gives the expected hits) and
    its folder, before any server runs."""
    path = tmp_path_factory.mktemp("web") / NAME
    with embkit.create(path) as col:
        col.add(list(TEXTS.values()), ids=list(TEXTS), metadatas=[{"topic": TOPIC_OF[i]} for i in TEXTS])
        col.cluster(k=3)
        where = {"topic": "programming"}
        filtered = col.search(QUERY, k=K, mode="keyword", where=where)
        expected = {
            "dense": col.search(QUERY, k=K), "keyword": col.search(QUERY, k=K, mode="keyword"),
            "filtered": filtered, "like": col.search(like=filtered[0].id, k=K, where=where),
            "markup": col.search("escaping html tags in templates", k=K),
        }
    assert expected["dense"][0].id != expected["keyword"][0].id  # so switching the mode shows a change
    assert len(filtered) >= 2 and expected["markup"][0].id == MARKUP_ID
    return {"path": path, "expected": expected}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "embkit.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


@pytest.fixture(scope="module")
def server(site, tmp_path_factory):
    """`python -m embkit.cli serve` on a free loopback port with a fresh key store;
    yields (url, read key)."""
    work = tmp_path_factory.mktemp("web-server")
    keys_file, log = work / "keys.json", work / "server.log"
    # EMBKIT_HOME is conftest's private folder: the model graph built above is reused
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EMBKIT_HOME": os.environ["EMBKIT_HOME"]}
    made = cli("keys", "create", "--scope", "read", "--keys-file", keys_file, env=env)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key and "\n" not in key
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "embkit.cli", "serve", str(site["path"]), "--host",
                                    "127.0.0.1", "--port", str(port), "--keys-file", str(keys_file)],
                                   stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"the server exited with {process.returncode}:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"the server did not answer /health in 60 s:\n{log.read_text()}"
            try:
                with urllib.request.urlopen(url + "/health", timeout=1) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        yield url, key
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def log_in(page, url: str, key: str) -> None:
    from playwright.sync_api import expect

    page.goto(url + "/")
    expect(page.locator("#key-form")).to_be_visible()
    page.fill("#key-input", key)
    page.click("#key-submit")
    expect(page.locator("#key-overlay")).to_be_hidden()
    expect(page.locator("#collection-select")).to_have_value(NAME)
    expect(page.locator("#filter-topic")).to_be_attached()


def shown_ids(page) -> list[str]:
    return page.locator("#results .result").evaluate_all("items => items.map(item => item.dataset.id)")


def expect_results(page, hits) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#results[data-state=done] .result .doc-id")).to_have_text(ids(hits))


def save_screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(PNG_MAGIC)
    return path


def test_the_page_asks_for_a_key_and_again_for_a_wrong_one(page, server):
    from playwright.sync_api import expect

    url, key = server
    page.goto(url + "/")
    expect(page.locator("#key-form")).to_be_visible()  # GET /collections without a key answered 401
    expect(page.locator("#key-error")).to_be_hidden()
    assert page.evaluate(f"sessionStorage.getItem('{KEY_STORAGE}')") is None

    page.fill("#key-input", "not-a-key")
    page.click("#key-submit")
    expect(page.locator("#key-error")).to_be_visible()
    expect(page.locator("#key-error")).to_contain_text("not accepted")
    expect(page.locator("#key-form")).to_be_visible()
    assert page.evaluate(f"sessionStorage.getItem('{KEY_STORAGE}')") is None  # the wrong key was dropped

    page.fill("#key-input", key)
    page.click("#key-submit")
    expect(page.locator("#key-overlay")).to_be_hidden()
    expect(page.locator("#collection-select option")).to_have_text([NAME])
    expect(page.locator("#collection-info")).to_contain_text(f"{len(TEXTS)} documents")
    assert page.evaluate(f"sessionStorage.getItem('{KEY_STORAGE}')") == key

    page.reload()  # kept for the session: not asked again
    expect(page.locator("#collection-select")).to_have_value(NAME)
    expect(page.locator("#key-overlay")).to_be_hidden()

    page.evaluate(f"sessionStorage.setItem('{KEY_STORAGE}', 'revoked-or-wrong')")
    page.reload()  # a 401 with a stored key: cleared and asked again
    expect(page.locator("#key-form")).to_be_visible()
    expect(page.locator("#key-error")).to_be_visible()
    assert page.evaluate(f"sessionStorage.getItem('{KEY_STORAGE}')") is None


def test_search_modes_highlights_filters_and_more_like_this(page, server, site):
    from playwright.sync_api import expect

    url, key = server
    expected = site["expected"]
    log_in(page, url, key)
    expect(page.locator("#mode-dense")).to_have_attribute("aria-pressed", "true")

    page.fill("#search-input", QUERY)
    page.press("#search-input", "Enter")
    expect_results(page, expected["dense"])
    first = page.locator("#results .result").first
    expect(first.locator(".rank")).to_have_text("1")
    score = first.locator(".score").inner_text()
    assert re.fullmatch(r"-?\d+\.\d{3}", score) and abs(float(score) - expected["dense"][0].score) < 2e-3
    expect(first.locator(".meta[data-field=topic] .meta-value")).to_have_text(TOPIC_OF[expected["dense"][0].id])

    marks = [m.lower() for m in page.locator("#results .result mark").all_inner_texts()]
    assert marks and all(m.startswith(("search", "results")) for m in marks)
    assert "searching" in marks  # a word that starts with a query word, whole and case-insensitive
    assert "search" in [m.lower() for m in first.locator("mark").all_inner_texts()]

    page.click("#mode-keyword")
    expect(page.locator("#mode-keyword")).to_have_attribute("aria-pressed", "true")
    expect_results(page, expected["keyword"])
    assert shown_ids(page)[0] == expected["keyword"][0].id != expected["dense"][0].id
    expect(first.locator(".subscores")).to_contain_text(f"keyword {expected['keyword'][0].keyword_score:.3f}")

    page.select_option("#filter-topic", label="programming")
    expect_results(page, expected["filtered"])
    topics = page.locator("#results .result .meta[data-field=topic] .meta-value").all_inner_texts()
    assert len(topics) == len(expected["filtered"]) and set(topics) == {"programming"}

    liked = expected["filtered"][0].id
    page.locator(f"#results .result[data-id='{liked}'] .more-like-this").click()
    expect(page.locator("#like-banner")).to_be_visible()
    expect(page.locator("#like-id")).to_have_text(liked)
    expect_results(page, expected["like"])  # like=id, still filtered by topic
    assert liked not in shown_ids(page)
    topics = page.locator("#results .result .meta[data-field=topic] .meta-value").all_inner_texts()
    assert len(topics) == K and set(topics) == {"programming"}
    save_screenshot(page, "web_page.png")

    # text from the collection is shown as text: markup in a document stays visible, inert
    page.select_option("#filter-topic", label="any")
    page.click("#mode-dense")
    page.fill("#search-input", "escaping html tags in templates")
    page.press("#search-input", "Enter")
    expect(page.locator("#like-banner")).to_be_hidden()
    expect_results(page, expected["markup"])
    expect(first.locator(".text")).to_have_text(TEXTS[MARKUP_ID])
    assert first.locator(".text script, .text b").count() == 0
    assert [m.lower() for m in first.locator("mark").all_inner_texts()] == ["html", "templates", "tags"]


def test_map_has_a_point_per_document_and_a_click_opens_it(page, server):
    from playwright.sync_api import expect

    url, key = server
    log_in(page, url, key)
    page.click("#tab-map")
    expect(page.locator("#map-view")).to_be_visible()
    expect(page.locator("#map-color")).to_have_value("cluster")
    expect(page.locator("#map")).to_have_attribute("data-state", "done", timeout=90_000)  # UMAP, cold numba
    traces = page.evaluate("""() => document.getElementById('map').data.map(
        t => ({type: t.type, name: t.name, ids: t.customdata}))""")
    assert {t["type"] for t in traces} == {"scattergl"}
    assert sorted(t["name"] for t in traces) == ["0", "1", "2"]  # one trace per cluster
    points = [i for t in traces for i in t["ids"]]
    assert len(points) == len(TEXTS) and set(points) == set(TEXTS)

    # a real mouse click on the point farthest from the others (plotly's own hit test)
    screen = page.evaluate("""() => {
        const gd = document.getElementById('map'), box = gd.getBoundingClientRect();
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, out = [];
        gd.data.forEach(t => t.x.forEach((x, i) => out.push({id: t.customdata[i],
            x: box.left + xa._offset + xa.l2p(x), y: box.top + ya._offset + ya.l2p(t.y[i])})));
        return out;
    }""")
    def room(p):
        return min((p["x"] - q["x"]) ** 2 + (p["y"] - q["y"]) ** 2 for q in screen if q is not p)
    target = max(screen, key=room)
    page.mouse.move(target["x"] - 30, target["y"] - 30)
    page.mouse.move(target["x"], target["y"], steps=5)
    page.mouse.click(target["x"], target["y"])
    panel = page.locator("#doc-panel")
    expect(panel).to_be_visible()
    expect(panel).to_have_attribute("data-id", target["id"])
    expect(page.locator("#doc-text")).to_have_text(TEXTS[target["id"]])
    expect(page.locator("#doc-metadata .meta[data-field=topic] .meta-value")).to_have_text(TOPIC_OF[target["id"]])
    # the panel narrowed the map: it is redrawn to fit, every point inside its box
    page.wait_for_function("""() => {
        const gd = document.getElementById('map'), box = gd.getBoundingClientRect();
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        return gd._fullLayout.width <= box.width + 1 && gd.data.every(t => t.x.every((x, i) => {
            const px = xa._offset + xa.l2p(x), py = ya._offset + ya.l2p(t.y[i]);
            return px >= 0 && px <= box.width && py >= 0 && py <= box.height;
        }));
    }""")
    save_screenshot(page, "web_page_map.png")
