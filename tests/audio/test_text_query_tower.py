"""A text query with no space named, on a collection of a CLAP (or CLIP) *text* tower
whose sounds (pictures) went into the paired `audio` (`image`) space, searches that
space while the text space holds no documents: in Python, the CLI and over HTTP it
finds the sounds (it searched the empty text space: no hits). Once texts are added, a
text query searches them again; keyword search stays on the texts; a tower space of
another model is never searched in its place."""

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("transformers")
pytest.importorskip("torch")
pytest.importorskip("soundfile")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "images"))

import embkit  # noqa: E402
from embkit.cli import app  # noqa: E402

from chromium_page import chromium_page  # noqa: E402
from clap_maker import make_tiny_clap  # noqa: E402
from live_server import LiveServer  # noqa: E402
from test_audio_collections import make_sounds  # noqa: E402

QUERY = "a dog barking"


def _hits(hits) -> list[tuple[str, float]]:
    return [(h.id, round(h.score, 5)) if hasattr(h, "id") else (h["id"], round(h["score"], 5)) for h in hits]


@pytest.fixture(scope="module")
def sounds_of_a_text_tower(tmp_path_factory):
    """(collection folder, sounds, clap): `create(model=CLAP)`, the sounds added by add_files."""
    work = tmp_path_factory.mktemp("text-tower")
    clap = make_tiny_clap(work / "tiny-clap")
    sounds = make_sounds(work / "sounds")
    with embkit.create(work / "col", model=str(clap)) as col:
        col.add_files([str(work / "sounds")])
        assert sorted(col.spaces) == ["audio", "text"] and col.space.name == "text"
    return work / "col", sounds, clap


def test_a_text_query_finds_the_sounds_in_every_door(sounds_of_a_text_tower, tmp_path):
    folder, sounds, _ = sounds_of_a_text_tower
    with embkit.open(folder) as col:
        expected = _hits(col.search(QUERY, k=4, space="audio"))
        assert len(expected) == 4 and col.search(QUERY, k=4, space="text") == []
        assert _hits(col.search(QUERY, k=4)) == expected
        assert _hits(col.search(QUERY, k=4, mode="hybrid")) == _hits(col.search(QUERY, k=4, mode="hybrid",
                                                                               space="audio"))
    done = CliRunner().invoke(app, ["search", str(folder), QUERY, "-k", "4", "--json"])
    assert done.exit_code == 0, done.output
    assert _hits(json.loads(done.stdout)["hits"]) == expected
    server = LiveServer([str(folder), "--no-auth"], tmp_path / "server.log", env={"HF_HUB_OFFLINE": "1"})
    try:
        with server.client() as http:
            found = http.post(f"/collections/{folder.name}/search", json={"query": QUERY, "k": 4})
            assert found.status_code == 200, found.text
            assert _hits(found.json()["hits"]) == expected
        _page_finds(server.url, [hit_id for hit_id, _ in expected])  # the web page: no space named on the default
    finally:
        server.stop()


def _page_finds(url: str, ids: list[str]) -> None:
    """The page's results for QUERY (k 4) are `ids`; a JavaScript error fails the test."""
    from playwright.sync_api import expect

    with chromium_page(url) as page:
        expect(page.locator("#space-control")).to_be_visible(timeout=60_000)  # text and audio
        page.select_option("#k-select", "5")
        page.fill("#search-input", QUERY)
        page.click("#search-submit")
        results = page.locator("#results[data-state=done] .result")
        expect(results).to_have_count(5, timeout=120_000)
        shown = results.evaluate_all("rs => rs.map(r => r.dataset.id)")
    assert shown[:4] == ids


def test_texts_once_added_are_what_a_text_query_searches(sounds_of_a_text_tower, tmp_path):
    import shutil

    folder = tmp_path / "col"
    shutil.copytree(sounds_of_a_text_tower[0], folder)
    with embkit.open(folder) as col, embkit.open(folder) as other:  # `other`: as another process would
        assert col.search("tone", mode="keyword") == []  # keyword search reads the texts: none yet
        counted = []
        count_missing = col._store.count_missing
        col._store.count_missing = lambda *a: counted.append(a) or count_missing(*a)
        sounds = [h.id for h in col.search(QUERY, k=4)]
        assert [h.id for h in col.search(QUERY, k=4)] == sounds and len(sounds) == 4
        assert len(counted) == 2  # the route is decided once per store generation (it counted per query)
        other.add(["a note about the recordings"], ids=["note"])
        assert [h.id for h in col.search(QUERY, k=4)] == ["note"] and len(counted) == 3


def test_a_tower_space_of_another_model_is_not_searched_instead(sounds_of_a_text_tower, tmp_path):
    """MiniLM's text space beside CLAP's audio space: MiniLM has no audio tower, so a text
    query stays in its own (empty) space."""
    _, sounds, clap = sounds_of_a_text_tower
    with embkit.create(tmp_path / "apart", model="minilm", audio_model=str(clap)) as col:
        col.add_audio([str(sounds["tone.wav"])])
        assert col.search(QUERY, k=4) == [] and len(col.search(QUERY, k=4, space="audio")) == 1


def test_a_clip_text_tower_routes_a_text_query_to_its_pictures(tmp_path):
    from clip_maker import make_tiny_clip
    from test_image_collections import draw

    clip = make_tiny_clip(tmp_path / "tiny-clip")
    draw(tmp_path / "pictures")
    with embkit.create(tmp_path / "photos", model=str(clip)) as col:
        col.add_files([str(tmp_path / "pictures")])
        expected = _hits(col.search("a red bicycle", k=3, space="image"))
        assert len(expected) == 3 and _hits(col.search("a red bicycle", k=3)) == expected
        picture = str(sorted((tmp_path / "pictures").iterdir())[0])  # a picture's neighbours are pictures
        assert _hits(col.search(image=picture, k=3)) == _hits(col.search(image=picture, k=3, space="image"))
        top = expected[0][0]  # `like` a routed hit: the space holding its vector (the text space has none)
        assert _hits(col.search(like=top, k=3)) == _hits(col.search(like=top, k=3, space="image"))


def test_like_and_context_follow_the_same_rule(sounds_of_a_text_tower, tmp_path):
    """`like=` a sound and a question for `context` (Python and the MCP tool) search the
    audio space too: `like` found no vector of the sound in the text space, and context
    searched the empty text space (a captioned sound in the audio space was never cited)."""
    import shutil

    from embkit.integrations.mcp_tools import Served, Shelf, context_tool

    folder = tmp_path / "col"
    shutil.copytree(sounds_of_a_text_tower[0], folder)
    with embkit.open(folder) as col:
        sound = col.search(QUERY, k=1)[0].id
        assert _hits(col.search(like=sound, k=3)) == _hits(col.search(like=sound, k=3, space="audio"))
        rowid = col._store.get([sound])[0].rowid
        col.in_space("audio").add(["a dog barking in the yard"], ids=["caption"],
                                  vectors=col._store.vectors("audio", [rowid])[1])
        assert [p.id for p in col.context(QUERY, mode="dense").passages] == ["caption"]
        mcp = context_tool(Shelf([Served(folder.name, col)]))(QUERY, mode="dense")
        assert [p["id"] for p in mcp.structured_content["passages"]] == ["caption"]
