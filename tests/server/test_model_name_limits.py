"""A model name no file system can hold (over 255 bytes between slashes) is refused with
the one-line error naming `model`, the same through Python and HTTP: looking it up as a
path raised "File name too long" (a traceback in Python, a 500 over HTTP), and at 5,000
characters the server dropped the connection."""

import pytest

import embkit
from embkit.errors import EmbkitError

from live_server import served_client

MESSAGE = ("model: a model name or path has at most 255 bytes (UTF-8) between slashes and 4095 in all, "
           "got {} between slashes and {} in all ({} characters)")


def message(name: str, part: int | None = None, total: int | None = None) -> str:
    """The refusal of `name`, of ASCII characters unless its bytes are given."""
    return MESSAGE.format(part or len(name), total or len(name), len(name))


@pytest.mark.parametrize("length", [300, 5000])
def test_python_refuses_a_model_name_too_long_for_a_path(tmp_path, length):
    with pytest.raises(EmbkitError) as e:
        embkit.create(tmp_path / "c", model="x" * length)
    assert str(e.value) == message("x" * length)
    assert not (tmp_path / "c").exists()


def test_http_refuses_a_model_name_too_long_for_a_path(tmp_path):
    (tmp_path / "root").mkdir()
    with served_client(["--root", str(tmp_path / "root"), "--no-auth"], tmp_path / "server.log") as client:
        for length in (300, 5000):
            r = client.post("/collections", json={"name": "long", "model": "x" * length})
            assert r.status_code in (400, 422), r.text
            assert r.json()["error"]["message"] == message("x" * length)
        assert "long" not in [c["name"] for c in client.get("/collections").json()["collections"]]


def test_a_model_name_no_path_can_spell_is_an_unknown_model(tmp_path):
    # a lone surrogate ("\ud800" is valid JSON) encodes to no file name: the length check
    # raised UnicodeEncodeError (a traceback; a 500 over HTTP) where the lookup says unknown
    with pytest.raises(EmbkitError, match=r"^model: unknown model '\\ud800"):
        embkit.create(tmp_path / "c", model="\ud800" * 3)
    with pytest.raises(EmbkitError) as e:  # and a long one is too long, not a 30,000-character line
        embkit.create(tmp_path / "c", model="\ud800" * 5000)
    assert str(e.value) == message("\ud800" * 5000, 15000, 15000)  # 3 bytes each, as UTF-8 would spell it
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize(("name", "part", "total"), [
    ("é" * 200, 400, 400),                        # 200 characters, under 255: its 400 bytes are over
    ("models/" + "模" * 100, 300, 307),            # one part of 100 characters and 300 bytes
    (("é" * 100 + "/") * 21, 200, 4221),          # 2121 characters, no part over 255 bytes; 4221 in all
])
def test_the_limits_are_bytes_and_the_message_says_so(tmp_path, name, part, total):
    """A name under the limits counted in characters, over them in UTF-8 bytes: the
    message said "got 200 characters" against a limit of 255, as if it were under."""
    assert len(name) <= 4095 and max(map(len, name.split("/"))) <= 255
    with pytest.raises(EmbkitError) as e:
        embkit.create(tmp_path / "c", model=name)
    assert str(e.value) == message(name, part, total)
    assert not (tmp_path / "c").exists()


def test_http_says_bytes_for_a_multibyte_name(tmp_path):
    (tmp_path / "root").mkdir()
    name = "é" * 200
    with served_client(["--root", str(tmp_path / "root"), "--no-auth"], tmp_path / "server.log") as client:
        r = client.post("/collections", json={"name": "wide", "model": name})
        assert r.status_code in (400, 422), r.text
        assert r.json()["error"]["message"] == message(name, 400, 400)
