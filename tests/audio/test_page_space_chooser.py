"""The web page's space chooser names a space only when one other than the collection's
default is chosen, comparing with the `space` the collection's info gives: it took the
first space listed for the default, and after reembed(drop_old=True) the listing starts
with `audio` (the new text space comes last), so choosing `audio` searched the texts."""

import sys
from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("torch")
pytest.importorskip("soundfile")
pytest.importorskip("playwright")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import embkit  # noqa: E402

from chromium_page import chromium_page  # noqa: E402
from clap_maker import make_tiny_clap  # noqa: E402
from live_server import LiveServer  # noqa: E402
from test_audio_collections import make_sounds  # noqa: E402

QUERY = "a dog barking"


def test_the_chooser_searches_the_space_chosen_whatever_the_listing_order(tmp_path):
    clap = make_tiny_clap(tmp_path / "tiny-clap")
    sounds = make_sounds(tmp_path / "sounds")
    folder = tmp_path / "col"
    with embkit.create(folder, model="minilm", audio_model=str(clap)) as col:
        col.add(["a dog barks at the mailman", "rain on a tin roof"], ids=["dog", "rain"])
        col.add_audio([str(sounds["tone.wav"]), str(sounds["noise.ogg"])])
        col.reembed(str(clap), drop_old=True)
        assert list(col.spaces) == ["audio", "text_v2"]  # the default (text, now text_v2) listed last
        texts = [h.id for h in col.search(QUERY, k=2)]
        sounds_found = [h.id for h in col.search(QUERY, k=2, space="audio")]
    assert texts == ["dog", "rain"] and sorted(sounds_found) == sorted(map(str, (sounds["tone.wav"],
                                                                                sounds["noise.ogg"])))
    server = LiveServer([str(folder), "--no-auth"], tmp_path / "server.log", env={"HF_HUB_OFFLINE": "1"})
    try:
        assert _page_results(server.url) == {"shown first": "text_v2", "text_v2": texts, "audio": sounds_found}
    finally:
        server.stop()


def _page_results(url: str) -> dict:
    """The space the chooser shows on load, and the page's results for QUERY in each space."""
    from playwright.sync_api import expect

    shown = {}
    with chromium_page(url) as page:
        expect(page.locator("#space-control")).to_be_visible(timeout=60_000)
        shown["shown first"] = page.locator("#space-select").input_value()
        page.select_option("#k-select", "5")
        page.fill("#search-input", QUERY)
        for space in ("text_v2", "audio", "text_v2"):
            page.select_option("#space-select", space)
            page.click("#search-submit")
            results = page.locator("#results[data-state=done] .result")
            expect(results).to_have_count(2, timeout=120_000)
            shown[space] = results.evaluate_all("rs => rs.map(r => r.dataset.id)")
    return shown
