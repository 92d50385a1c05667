"""Audio collections over HTTP and on the web page, on a tiny random CLAP saved by the
test: a real `embkit serve --audio-root` with a read key; a search by an uploaded clip
(base64) and by text gives the same hits as Python; bad clips are a 422 naming `audio`;
the sound file (with byte ranges) and its SVG waveform are served from under the audio
root only; in Debian's Chromium an audio hit shows a player whose source starts and
stops at the matched window (`#t=start,end`, seeked there) and a waveform that loads,
and a clip chosen in the page searches by sound."""

import base64
import io
import re
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("torch")
sf = pytest.importorskip("soundfile")

import embkit  # noqa: E402
from embkit.search.query_audio import MAX_QUERY_SECONDS  # noqa: E402

from clap_maker import make_tiny_clap  # noqa: E402
from live_server import LiveServer, create_key  # noqa: E402
from range_checks import bad_ranges  # noqa: E402
from test_audio_collections import make_sounds  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
NAME = "sounds"


@pytest.fixture
def page():
    """A headless Chromium page that fails the test on any JavaScript error (as in
    tests/server/conftest.py)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=20_000)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(20_000)
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        yield page
        browser.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def _hits(hits) -> list[tuple[str, float]]:
    return [(h.id, round(h.score, 5)) if hasattr(h, "id") else (h["id"], round(h["score"], 5)) for h in hits]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    work = tmp_path_factory.mktemp("audio-server")
    clap = make_tiny_clap(work / "tiny-clap")
    sounds = make_sounds(work / "library")
    outside = work / "elsewhere" / "away.wav"  # stored, but not under the served audio root
    outside.parent.mkdir()
    sf.write(outside, np.sin(np.arange(8000) / 3).astype(np.float32), 16000)
    with embkit.create(work / NAME, model=f"{clap}#audio") as col:
        col.add_audio([str(p) for p in sounds.values()] + [str(outside)])
        expected = {"tone": _hits(col.search(audio=str(sounds["tone.wav"]), k=4)),
                    "text": _hits(col.search("a dog barking", k=4))}
    key = create_key(work / "keys.json", "read")
    server = LiveServer([str(work / NAME), "--keys-file", str(work / "keys.json"), "--audio-root",
                         str(work / "library")], work / "server.log", env={"HF_HUB_OFFLINE": "1"})
    try:
        yield server, key, sounds, outside, expected
    finally:
        server.stop()


def test_search_by_an_uploaded_clip_and_by_text(served):
    server, key, sounds, _, expected = served
    clip = base64.b64encode(sounds["tone.wav"].read_bytes()).decode()
    with server.client(key) as http:
        found = http.post(f"/collections/{NAME}/search", json={"audio": clip, "k": 4})
        assert found.status_code == 200, found.text
        assert _hits(found.json()["hits"]) == expected["tone"] and expected["tone"][0][0] == str(sounds["tone.wav"])
        by_text = http.post(f"/collections/{NAME}/search", json={"query": "a dog barking", "k": 4})
        assert _hits(by_text.json()["hits"]) == expected["text"]
        long = io.BytesIO()
        sf.write(long, np.zeros(8000 * (MAX_QUERY_SECONDS + 1), dtype=np.int16), 8000, format="WAV")
        bad = {"%%%": "audio: not valid base64",
               "": "audio: the clip given is empty (0 bytes)",
               base64.b64encode(b"RIFF....WAVEfmt junk junk junk").decode():
                   "audio: the audio given is not a readable audio file",
               base64.b64encode(long.getvalue()).decode():
                   f"audio: the query clip lasts {MAX_QUERY_SECONDS + 1}.0 s, more than the limit of "
                   f"{MAX_QUERY_SECONDS} s"}
        for data, message in bad.items():
            answer = http.post(f"/collections/{NAME}/search", json={"audio": data})
            assert answer.status_code == 422 and answer.json()["error"]["message"].startswith(message), answer.text
        hybrid = http.post(f"/collections/{NAME}/search", json={"audio": clip, "mode": "hybrid"})
        assert hybrid.status_code == 422 and "an audio query searches by meaning only" in hybrid.text


def test_the_file_and_its_waveform_are_served_from_the_audio_root_only(served):
    server, key, sounds, outside, _ = served
    long = sounds["long.wav"]
    with server.client(key) as http:
        played = http.get(f"/collections/{NAME}/audio/{long}#1".replace("#", "%23"))
        assert played.status_code == 200 and played.headers["content-type"] == "audio/wav"
        assert played.content == long.read_bytes()
        part = http.get(f"/collections/{NAME}/audio/{sounds['noise.ogg']}", headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and part.content == sounds["noise.ogg"].read_bytes()[:100]
        assert http.get(f"/collections/{NAME}/audio/{sounds['low.mp3']}").headers["content-type"] == "audio/mpeg"
        wave = http.get(f"/collections/{NAME}/waveforms/{long}")
        assert wave.status_code == 200 and wave.headers["content-type"] == "image/svg+xml"
        assert wave.content.startswith(b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 240 48"')
        cached = list((server_folder(server) / "waveforms").iterdir())
        assert len(cached) == 1 and cached[0].read_bytes() == wave.content
        assert http.get(f"/collections/{NAME}/waveforms/{long}%230").content == wave.content  # a window: its file
        for route in ("audio", "waveforms"):
            assert http.get(f"/collections/{NAME}/{route}/{outside}").status_code == 404
            assert http.get(f"/collections/{NAME}/{route}/no-such-id").status_code == 404
    with server.client() as anonymous:
        assert anonymous.get(f"/collections/{NAME}/audio/{long}%230").status_code == 401



def test_bad_byte_ranges_are_json_errors(served):
    server, key, sounds, _, _ = served
    with server.client(key) as http:
        bad_ranges(http, f"/collections/{NAME}/audio/{sounds['noise.ogg']}", sounds["noise.ogg"].read_bytes())


def server_folder(server) -> Path:
    return server.log.parent / NAME


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium")
def test_the_page_plays_the_matched_window_and_draws_the_waveform(served, page):
    from playwright.sync_api import expect

    server, key, sounds, outside, _ = served
    played = []  # the sound files the page fetched
    page.on("request", lambda r: played.append(r.url.split("/audio/", 1)[1]) if "/audio/" in r.url else None)
    page.goto(server.url + "/")
    page.fill("#key-input", key)
    page.click("#key-submit")
    expect(page.locator("#collection-select")).to_have_value(NAME)
    page.select_option("#k-select", "20")
    page.fill("#search-input", "a dog barking")
    page.click("#search-submit")
    records = len(sounds) - 1 + 3 + 1  # long.wav as 3 windows, and the clip outside the root
    # the first query loads the text tower (slow on a busy machine): a long wait, not a timing
    expect(page.locator("#results[data-state=done] .result")).to_have_count(records, timeout=120_000)
    window = page.locator(f'.result[data-id="{sounds["long.wav"]}#1"]')
    player = window.locator("audio[data-testid=audio-player]")
    page.wait_for_function("() => [...document.querySelectorAll('.waveform-box')].every(b => "
                           "b.classList.contains('missing') || b.firstChild.naturalWidth === 240)")
    assert played == [] and window.locator("audio[src]").count() == 0  # no file fetched until played
    window.locator("[data-testid=audio-play]").click()
    expect(player).to_have_attribute("src", re.compile(r"^blob:http://127\.0\.0\.1:\d+/.+#t=0\.75,1\.75$"))
    assert played == [quote(f"{sounds['long.wav']}#1", safe="")]  # that hit's file, once
    handle = player.element_handle()
    page.wait_for_function("p => p.readyState >= 1 && p.duration > 2", arg=handle)
    assert handle.evaluate("p => Math.round(p.duration * 1000)") == 2500
    assert handle.evaluate("p => p.currentTime >= 0.75 && p.currentTime <= 1.75")  # within the window
    # the clip outside the served audio root: found, but neither drawn nor played
    away = page.locator(".waveform-box.missing").evaluate_all("bs => bs.map(b => b.closest('.result').dataset.id)")
    assert away == [str(outside)]
    expect(page.locator(f'.result[data-id="{outside}"] audio.missing')).to_have_count(1)
    expect(page.locator(f'.result[data-id="{outside}"] .audio-play.missing')).to_have_count(1)
    mark = window.locator(".waveform-window")
    assert mark.evaluate("m => [m.style.left, m.style.width]") == ["30%", "40%"]  # 0.75-1.75 of 2.5 s
    # a clip chosen in the page searches by sound: it comes back first
    page.set_input_files("#audio-input", str(sounds["tone.wav"]))
    expect(page.locator("#results[data-state=done] .result").first).to_have_attribute(
        "data-id", str(sounds["tone.wav"]), timeout=120_000)
    expect(page.locator("#search-input")).to_have_attribute("placeholder", "Searching by sound: tone.wav")
