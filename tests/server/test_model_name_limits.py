"""A model name no file system can hold (over 255 bytes between slashes) is refused with
the one-line error naming `model`, the same through Python and HTTP: looking it up as a
path raised "File name too long" (a traceback in Python, a 500 over HTTP), and at 5,000
characters the server dropped the connection."""

import pytest

import embkit
from embkit.errors import EmbkitError

from live_server import served_client

MESSAGE = "model: a model name or path has at most 255 bytes between slashes and 4095 in all, got {} characters"


@pytest.mark.parametrize("length", [300, 5000])
def test_python_refuses_a_model_name_too_long_for_a_path(tmp_path, length):
    with pytest.raises(EmbkitError) as e:
        embkit.create(tmp_path / "c", model="x" * length)
    assert str(e.value) == MESSAGE.format(length)
    assert not (tmp_path / "c").exists()


def test_http_refuses_a_model_name_too_long_for_a_path(tmp_path):
    (tmp_path / "root").mkdir()
    with served_client(["--root", str(tmp_path / "root"), "--no-auth"], tmp_path / "server.log") as client:
        for length in (300, 5000):
            r = client.post("/collections", json={"name": "long", "model": "x" * length})
            assert r.status_code in (400, 422), r.text
            assert r.json()["error"]["message"] == MESSAGE.format(length)
        assert "long" not in [c["name"] for c in client.get("/collections").json()["collections"]]


def test_a_model_name_no_path_can_spell_is_an_unknown_model(tmp_path):
    # a lone surrogate ("\ud800" is valid JSON) encodes to no file name: the length check
    # raised UnicodeEncodeError (a traceback; a 500 over HTTP) where the lookup says unknown
    with pytest.raises(EmbkitError, match=r"^model: unknown model '\\ud800"):
        embkit.create(tmp_path / "c", model="\ud800" * 3)
    with pytest.raises(EmbkitError) as e:  # and a long one is too long, not a 30,000-character line
        embkit.create(tmp_path / "c", model="\ud800" * 5000)
    assert str(e.value) == MESSAGE.format(5000)
    assert not (tmp_path / "c").exists()
