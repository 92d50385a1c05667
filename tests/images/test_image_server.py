"""Image collections over HTTP and on the web page: a real `embkit serve` with a read
key, a search by a base64 image and by text in a chosen space, thumbnails as WebP, and
in Debian's Chromium the results shown as thumbnails (decoded, so visible)."""

import base64
from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("torch")

import embkit  # noqa: E402

from clip_maker import make_tiny_clip  # noqa: E402
from live_server import LiveServer, create_key  # noqa: E402
from range_checks import bad_ranges  # noqa: E402
from test_image_collections import draw  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
NAME = "photos"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    work = tmp_path_factory.mktemp("image-server")
    clip = make_tiny_clip(work / "tiny-clip")
    pictures = draw(work / "pictures")
    with embkit.create(work / NAME, model="minilm", image_model=str(clip)) as col:
        col.add(["a note about red pictures"], ids=["note"])
        col.add_images([str(p) for p in pictures])
        expected = [h.id for h in col.search("a red square", k=4, space="image")]
    key = create_key(work / "keys.json", "read")
    writer = create_key(work / "keys.json", "write")
    server = LiveServer([str(work / NAME), "--keys-file", str(work / "keys.json")], work / "server.log",
                        env={"HF_HUB_OFFLINE": "1"})
    server.writer, server.folder = writer, work / NAME
    try:
        yield server, key, pictures, expected
    finally:
        server.stop()


def test_search_by_image_and_text_and_fetch_thumbnails(served):
    server, key, pictures, expected = served
    with server.client(key) as http:
        image = base64.b64encode(pictures[3].read_bytes()).decode()
        found = http.post(f"/collections/{NAME}/search", json={"image": image, "space": "image", "k": 2})
        assert found.status_code == 200, found.text
        assert found.json()["hits"][0]["id"] == str(pictures[3])
        by_text = http.post(f"/collections/{NAME}/search", json={"query": "a red square", "space": "image", "k": 4})
        assert [h["id"] for h in by_text.json()["hits"]] == expected
        default = http.post(f"/collections/{NAME}/search", json={"query": "a red square", "k": 4})
        assert [h["id"] for h in default.json()["hits"]] == ["note"]  # the text space
        thumb = http.get(f"/collections/{NAME}/thumbnails/{pictures[0]}")
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
        assert thumb.content[:4] == b"RIFF" and thumb.content[8:12] == b"WEBP"
        assert http.get(f"/collections/{NAME}/thumbnails/note").status_code == 404
        bad = http.post(f"/collections/{NAME}/search", json={"image": "%%%", "space": "image"})
        assert bad.status_code == 422 and "image: not valid base64" in bad.json()["error"]["message"]
        text_space = http.post(f"/collections/{NAME}/search", json={"image": image, "space": "text"})
        assert text_space.status_code == 422 and "no paired image encoder" in text_space.json()["error"]["message"]
        unnamed = http.post(f"/collections/{NAME}/search", json={"image": image, "k": 2})  # routed to `image`
        assert unnamed.json()["hits"] == found.json()["hits"]
    with server.client() as anonymous:
        assert anonymous.get(f"/collections/{NAME}/thumbnails/{pictures[0]}").status_code == 401


def test_bad_byte_ranges_on_a_thumbnail_are_json_errors(served):
    server, key, pictures, _ = served
    url = f"/collections/{NAME}/thumbnails/{pictures[0]}"
    with server.client(key) as http:
        whole = http.get(url).content
        bad_ranges(http, url, whole)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium")
def test_the_page_shows_image_results_as_thumbnails(served):
    from playwright.sync_api import expect, sync_playwright

    server, key, pictures, expected = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url + "/")
        page.fill("#key-input", key)
        page.click("#key-submit")
        expect(page.locator("#space-control")).to_be_visible(timeout=20_000)
        page.select_option("#space-select", "image")
        page.fill("#search-input", "a red square")
        page.click("#search-submit")
        done = page.locator("#results[data-state=done] .result")
        expect(done).to_have_count(len(pictures), timeout=20_000)
        assert done.evaluate_all("items => items.map(i => i.dataset.id)")[:4] == expected
        thumbs = page.locator("img[data-testid=thumbnail]")
        expect(thumbs).to_have_count(len(pictures))
        page.wait_for_function("() => [...document.querySelectorAll('img.thumbnail')]"
                               ".every(i => i.complete && i.naturalWidth > 0)", timeout=20_000)
        sizes = thumbs.evaluate_all("imgs => imgs.map(i => [i.naturalWidth, i.naturalHeight])")
        assert all(max(s) == 256 for s in sizes)
        # search by an uploaded image: it comes back first
        page.set_input_files("#image-input", str(pictures[4]))
        expect(page.locator("#results[data-state=done] .result").first).to_have_attribute(
            "data-id", str(pictures[4]), timeout=20_000)
        browser.close()
        assert not errors, errors


def test_upload_images_over_http(served, tmp_path):
    from PIL import Image

    server, key, pictures, _ = served
    Image.new("RGB", (90, 60), (250, 250, 10)).save(tmp_path / "yellow.png")
    good = base64.b64encode((tmp_path / "yellow.png").read_bytes()).decode()
    bad = base64.b64encode(b"these bytes are not a picture").decode()
    body = {"images": [{"data": good, "filename": "yellow.png", "metadata": {"album": "test"}},
                       {"data": bad, "id": "junk"}]}
    with server.client(key) as reader:
        assert reader.post(f"/collections/{NAME}/images", json=body).status_code == 403
    with server.client(server.writer) as http:
        done = http.post(f"/collections/{NAME}/images", json=body)
        assert done.status_code == 200, done.text
        answer = done.json()
        assert len(answer["ids"]) == 1 and answer["skipped"][0]["index"] == 1 and answer["skipped"][0]["id"] == "junk"
        new_id = answer["ids"][0]
        doc = http.get(f"/collections/{NAME}/documents/{new_id}").json()
        assert doc["metadata"]["filename"] == "yellow.png" and doc["metadata"]["album"] == "test"
        assert doc["metadata"]["width"] == 90 and Path(doc["metadata"]["path"]).parent == server.folder / "images"
        assert sorted(p.name for p in (server.folder / "images").iterdir()) == [new_id + ".png"]  # junk not kept
        found = http.post(f"/collections/{NAME}/search", json={"image": good, "space": "image", "k": 1}).json()
        assert found["hits"][0]["id"] == new_id
        again = http.post(f"/collections/{NAME}/images", json={"images": body["images"][:1]})
        assert again.status_code == 409 and "already exist" in again.json()["error"]["message"]
        assert http.post(f"/collections/{NAME}/images", json={"images": [{"data": "%%"}]}).status_code == 422
        assert http.delete(f"/collections/{NAME}/documents/{new_id}").status_code == 200


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium")
def test_hovering_an_image_point_on_a_map_shows_its_picture(tmp_path):
    from playwright.sync_api import sync_playwright

    clip = make_tiny_clip(tmp_path / "tiny-clip")
    pictures = draw(tmp_path / "pictures")
    with embkit.create(tmp_path / "photos", model=f"{clip}#image") as col:
        col.add_images([str(p) for p in pictures])
        col.map(tmp_path / "map.html", method="pca", color_by=None)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 900, "height": 700})
        page.goto((tmp_path / "map.html").as_uri())
        page.wait_for_selector(".js-plotly-plot .scatterlayer, .js-plotly-plot canvas")
        # each point's place on screen, from plotly's own axes
        points = page.evaluate("""() => {
            const box = document.querySelector('.js-plotly-plot'), layout = box._fullLayout;
            const rect = box.getBoundingClientRect(), trace = box._fullData[0];
            return Array.from(trace.x, (x, i) => [rect.left + layout._size.l + layout.xaxis.l2p(x),
                                          rect.top + layout._size.t + layout.yaxis.l2p(trace.y[i]),
                                          trace.customdata[i]]);
        }""")
        shown = []
        for x, y, picture in points:
            page.mouse.move(x, y)
            page.wait_for_timeout(150)
            shown.append(page.evaluate("""async (picture) => {
                const img = document.querySelector('img[data-testid=map-picture]');
                if (img.style.display !== 'block') return null;
                await img.decode();
                return [img.naturalWidth, img.src === picture];
            }""", picture))
            page.mouse.move(1, 1)
            page.wait_for_timeout(50)
        browser.close()
    assert len(shown) == len(pictures) and all(s is not None and s[0] > 0 and s[1] for s in shown), shown
