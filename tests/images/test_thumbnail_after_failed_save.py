"""A thumbnail is a cache of its document's picture: when saving the new one after an
upsert fails (a full disk), the old picture's thumbnail must not stay to be served for
the new picture; it is drawn again from the file when asked for."""

import warnings

import pytest

pytest.importorskip("transformers")
pytest.importorskip("torch")

import embkit  # noqa: E402
from embkit import image_documents  # noqa: E402
from embkit.ingest.image_files import read_image, thumbnail_bytes  # noqa: E402

from clip_maker import make_tiny_clip  # noqa: E402
from test_image_collections import draw  # noqa: E402


def test_an_upsert_whose_thumbnail_cannot_be_saved_leaves_no_stale_thumbnail(tmp_path, monkeypatch):
    clip = make_tiny_clip(tmp_path / "tiny-clip")
    first, second = draw(tmp_path / "pictures")[:2]
    with embkit.create(tmp_path / "photos", model=f"{clip}#image") as col:
        col.add_images([str(first)], ids=["x"])
        assert col.thumbnail("x").read_bytes() == thumbnail_bytes(read_image(str(first)).image)

        def disk_full(data, dest):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(image_documents, "save_thumbnail", disk_full)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert col.add_images([str(second)], ids=["x"], upsert=True) == (["x"], [])
        monkeypatch.undo()
        assert col.thumbnail("x").read_bytes() == thumbnail_bytes(read_image(str(second)).image)
