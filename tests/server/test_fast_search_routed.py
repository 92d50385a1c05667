"""The event-loop fast path answers only on an index that needs no work. A `like` search
with no space named goes to the space holding that document's vector
(collection/tower_route.py): on a CLAP text-tower collection a sound's neighbours are in
the `audio` space, whose index the ready check (the default space's) does not cover, so
the fast path loaded (or caught up, or built) the audio index on the event loop, every
other request waiting. Such a request is the route's, in the thread pool."""

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("torch")
pytest.importorskip("soundfile")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "audio"))

import embkit  # noqa: E402
from embkit.server.app import create_app  # noqa: E402
from embkit.server.hosting import Collections  # noqa: E402

from clap_maker import make_tiny_clap  # noqa: E402
from test_audio_collections import make_sounds  # noqa: E402


@pytest.fixture(scope="module")
def text_tower(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("routed-fast")
    clap = make_tiny_clap(work / "tiny-clap")
    make_sounds(work / "sounds")
    with embkit.create(work / "col", model=str(clap)) as col:
        col.add_files([str(work / "sounds")])
        assert sorted(col.spaces) == ["audio", "text"] and col.space.name == "text"
    return work / "col"


def _scope(name: str) -> dict:
    return {"type": "http", "method": "POST", "path": f"/collections/{name}/search",
            "headers": [(b"content-type", b"application/json")], "query_string": b""}


def test_a_like_routed_to_another_space_is_left_to_the_route(text_tower):
    collections = Collections([text_tower])
    fast = create_app(collections, keys=None).app  # RequestMiddleware -> FastSearch
    try:
        col = collections.get(text_tower.name).collection
        col.refresh_index()  # the default (text) space's index: ready
        sound = col._store.find(limit=1)[0].id  # every document is a sound (the text space is empty)
        audio = col.in_space("audio")._index
        assert col.index_ready() and audio.index is None  # the audio index is not loaded yet
        body = json.dumps({"like": sound, "k": 2}).encode()
        assert fast._answer(_scope(text_tower.name), text_tower.name, body) is None
        assert audio.index is None  # nothing loaded on the event loop
        found = col.search(like=sound, k=2)  # the route's answer (the audio space) is there
        assert len(found) == 2 and sound not in [h.id for h in found]
    finally:
        collections.close()
