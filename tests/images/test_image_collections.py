"""Image collections on a tiny random CLIP saved by the test and images drawn with PIL:
images land in the `image` space with their file's metadata and a thumbnail; a text
query reaches them through the paired text tower and an image query through the image
tower, with exactly the ids a brute-force search gives; a collection holds a text and
an image space side by side; unreadable files are skipped without losing the others;
a failed batch writes nothing."""

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("torch")

import embkit  # noqa: E402
from embkit.errors import EmbkitError  # noqa: E402

from clip_maker import make_tiny_clip  # noqa: E402

COLOURS = [(220, 20, 20), (20, 200, 40), (30, 40, 220), (240, 200, 0), (90, 0, 160), (0, 160, 170)]
TAKEN = "2024:05:17 14:03:09"


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


def draw(folder: Path) -> list[Path]:
    """Six pictures in png, jpg (one with an EXIF date) and webp, of different sizes."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, colour in enumerate(COLOURS):
        image = Image.new("RGB", (300 + 40 * i, 200 + 10 * i), colour)
        ImageDraw.Draw(image).rectangle((20 * i, 10, 120 + 20 * i, 150), fill=(255 - colour[0], 128, colour[2]))
        path = folder / f"pic{i}.{('png', 'jpg', 'webp')[i % 3]}"
        if i == 1:
            exif = Image.Exif()
            exif[306] = TAKEN  # DateTime
            image.save(path, exif=exif)
        else:
            image.save(path)
        paths.append(path)
    return paths


@pytest.fixture
def pictures(tmp_path) -> list[Path]:
    return draw(tmp_path / "pictures")


def test_images_land_with_metadata_and_thumbnails(clip, pictures, tmp_path):
    from PIL import Image

    with embkit.create(tmp_path / "photos", model=f"{clip}#image") as col:
        assert list(col.spaces) == ["image"] and col.space.model.endswith("#image") and col.space.dim == 16
        ids, skipped = col.add_images([str(p) for p in pictures])
        assert ids == [str(p) for p in pictures] and skipped == []
        docs = {d.id: d for d in col.get(ids, include_vectors=True)}
        for i, path in enumerate(pictures):
            meta = docs[str(path)].metadata
            assert meta["path"] == str(path) and meta["bytes"] == path.stat().st_size
            assert (meta["width"], meta["height"]) == (300 + 40 * i, 200 + 10 * i)
            assert meta["format"] == {"png": "png", "jpg": "jpeg", "webp": "webp"}[path.suffix[1:]]
            assert meta["image"] is True and docs[str(path)].text is None
            thumb = col.thumbnail(str(path))
            with Image.open(thumb) as t:
                assert t.format == "WEBP" and max(t.size) == 256
        assert docs[str(pictures[1])].metadata["taken"] == "2024-05-17T14:03:09"
        assert "taken" not in docs[str(pictures[0])].metadata
        # stored vectors are the image tower's own, unit length
        tower = embkit.load_encoder(f"{clip}#image")
        np.testing.assert_allclose(np.stack([docs[str(p)].vector for p in pictures]), tower.encode(pictures),
                                   atol=1e-5)
        # a thumbnail that went missing is made again from the file
        col.thumbnail(ids[0]).unlink()
        assert col.thumbnail(ids[0]).is_file()


def test_text_and_image_queries_give_the_brute_force_ids(clip, pictures, tmp_path):
    ids = [str(p) for p in pictures]
    stored = embkit.load_encoder(f"{clip}#image").encode(pictures)
    with embkit.create(tmp_path / "photos", model=f"{clip}#image") as col:
        col.add_images(ids)
        for query in ("a red bicycle", "a blue square on a green field"):
            q = embkit.load_encoder(str(clip)).encode([query])  # the paired text tower
            cosines = (stored @ q[0]) / np.linalg.norm(stored, axis=1) / np.linalg.norm(q[0])  # numpy brute force
            rows = np.argsort(-cosines, kind="stable")[:4]
            hits = col.search(query, k=4)
            assert [h.id for h in hits] == [ids[r] for r in rows]
            np.testing.assert_allclose([h.score for h in hits], cosines[rows], atol=1e-5)
        for i in (0, 4):
            hits = col.search(image=str(pictures[i]), k=3)
            assert hits[0].id == ids[i] and hits[0].score == pytest.approx(1.0, abs=1e-5)
        like = col.search(like=ids[2], k=5)
        assert ids[2] not in [h.id for h in like] and len(like) == 5
    with embkit.open(tmp_path / "photos") as col:  # reopened: same space, same answers
        assert col.space.name == "image" and col.search(image=str(pictures[3]), k=1)[0].id == ids[3]


def test_text_and_image_spaces_side_by_side(clip, pictures, tmp_path):
    with embkit.create(tmp_path / "mixed", model="minilm", image_model=str(clip)) as col:
        assert {n: s.model for n, s in col.spaces.items()} == {"text": "minilm", "image": f"{clip.resolve()}#image"}
        col.add(["A cat sleeps on the sofa.", "Stock markets fell sharply today."], ids=["cat", "markets"])
        col.add_images([str(p) for p in pictures[:3]])
        assert col.count() == 5
        text_hits = col.search("a sleeping kitten", k=5)
        assert [h.id for h in text_hits] == ["cat", "markets"]  # the text space holds only the texts
        image_hits = col.search("a sleeping kitten", k=5, space="image")
        assert sorted(h.id for h in image_hits) == sorted(str(p) for p in pictures[:3])
        assert col.search(image=str(pictures[2]), k=1, space="image")[0].id == str(pictures[2])
        with pytest.raises(EmbkitError, match="image: space 'text' \\(minilm\\) embeds text and has no paired image"):
            col.search(image=str(pictures[0]), k=1, space="text")
        assert col.search(image=str(pictures[2]), k=1)[0].id == str(pictures[2])  # no space named: `image`
        with pytest.raises(EmbkitError, match="space: no space 'audio'"):
            col.search("x", space="audio")
        col.delete(["cat", str(pictures[0])])
        assert [h.id for h in col.search("a kitten", k=5)] == ["markets"]
        assert str(pictures[0]) not in [h.id for h in col.search("a kitten", k=5, space="image")]
    with embkit.open(tmp_path / "mixed") as col:
        assert col.space.name == "text" and sorted(col.spaces) == ["image", "text"]


def test_a_space_can_be_added_later(clip, pictures, tmp_path):
    with embkit.create(tmp_path / "later", model="minilm") as col:
        col.add(["hello"], ids=["t"])
        with pytest.raises(EmbkitError, match="image_model: 'minilm' embeds text, not images"):
            col.add_space("image", "minilm")
        with pytest.raises(EmbkitError, match="name: space name 'Bad Name'"):
            col.add_space("Bad Name", f"{clip}#image")
        col.add_space("image", str(clip))  # a CLIP folder: its image tower
        with pytest.raises(EmbkitError, match="name: the collection has a space 'image' already"):
            col.add_space("image", str(clip))
        col.add_images([str(pictures[0])])
        assert col.in_space("image").count() == 2 and col.search(image=str(pictures[0]), space="image")[0].id == \
            str(pictures[0])


def test_unreadable_files_are_skipped_and_the_rest_land(clip, pictures, tmp_path):
    bad = tmp_path / "pictures"
    (bad / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (bad / "empty.png").write_bytes(b"")
    truncated = (bad / "pic0.png").read_bytes()
    (bad / "half.png").write_bytes(truncated[:len(truncated) // 2])
    paths = sorted(str(p) for p in bad.iterdir())
    with embkit.create(tmp_path / "photos", model=f"{clip}#image") as col:
        ids, skipped = col.add_images(paths)
        assert sorted(s.path for s in skipped) == sorted(str(bad / n) for n in ("broken.jpg", "empty.png", "half.png"))
        assert all(s.reason for s in skipped)
        assert sorted(ids) == sorted(str(p) for p in pictures) and col.count() == len(pictures)
        assert col.thumbnail(str(bad / "broken.jpg")) is None


def test_a_failed_batch_writes_nothing(clip, pictures, tmp_path):
    with embkit.create(tmp_path / "photos", model=f"{clip}#image") as col:
        col.add_images([str(pictures[0])])
        before = sorted((tmp_path / "photos" / "thumbnails").iterdir())
        with pytest.raises(EmbkitError, match="already exist"):  # pictures[0] again, with new ones
            col.add_images([str(p) for p in pictures])
        assert col.count() == 1 and sorted((tmp_path / "photos" / "thumbnails").iterdir()) == before
        with pytest.raises(EmbkitError, match="ids: 1 ids for 2 documents"):
            col.add_images([str(p) for p in pictures[1:3]], ids=["one"])
        with pytest.raises(EmbkitError, match="ids: the same id"):
            col.add_images([str(pictures[1]), str(pictures[1])])
        with pytest.raises(EmbkitError, match="paths: expected a list of image file paths"):
            col.add_images(str(pictures[1]))
        assert col.count() == 1
        ids, _ = col.add_images([str(pictures[0])], upsert=True, metadatas=[{"album": "red"}])
        assert col.get(ids)[0].metadata["album"] == "red" and col.count() == 1
        assert col.get(ids)[0].metadata["parent"] == ids[0] == str(pictures[0])  # an image is a document too


def test_cli_add_and_search_images(clip, pictures, tmp_path):
    from typer.testing import CliRunner

    from embkit.cli import app

    folder = tmp_path / "pictures"
    (folder / "notes.txt").write_text("not a picture")
    (folder / "broken.webp").write_bytes(b"RIFF0000WEBPjunk")
    runner = CliRunner()
    photos = str(tmp_path / "photos")
    done = runner.invoke(app, ["init", photos, "--model", f"{clip}#image"])
    assert done.exit_code == 0, done.output
    done = runner.invoke(app, ["add", photos, str(folder), "--json"])
    assert done.exit_code == 3, done.output  # partial: two files skipped
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["added"] == len(pictures) and summary["count"] == len(pictures)
    assert sorted(Path(s["file"]).name for s in summary["skipped"]) == ["broken.webp", "notes.txt"]
    assert "warning: skipped" in done.stderr
    done = runner.invoke(app, ["search", photos, "--image", str(pictures[5]), "-k", "2", "--json"])
    assert done.exit_code == 0, done.output
    results = json.loads(done.stdout)["hits"]
    assert results[0]["id"] == str(pictures[5]) and results[0]["metadata"]["width"] == 500
    done = runner.invoke(app, ["search", photos, "a red bicycle", "-k", "3"])
    assert done.exit_code == 0 and done.stdout.count("[image ") == 3
    # a text collection without an image tower refuses images, naming the way out
    runner.invoke(app, ["init", str(tmp_path / "texts")])
    done = runner.invoke(app, ["add", str(tmp_path / "texts"), str(pictures[0])])
    assert done.exit_code == 1 and "--image-model" in str(done.exception)


def test_image_space_on_both_backends(backend, clip, pictures):
    """The text + image spaces on SQLite and on PostgreSQL (pgvector): a space added
    later gets its own table and index there."""
    location = backend("photos")
    with embkit.create(location, model="minilm") as col:
        col.add(["a note"], ids=["note"])
        col.add_space("image", str(clip))
        ids, skipped = col.add_images([str(p) for p in pictures[:4]])
        assert not skipped and col.count() == 5
    with embkit.open(location) as col:
        assert sorted(col.spaces) == ["image", "text"]
        assert col.search(image=str(pictures[2]), space="image", k=1)[0].id == str(pictures[2])
        assert [h.id for h in col.search("a note", k=5)] == ["note"]
        assert len(col.search("a note", k=10, space="image")) == 4


def test_cli_commands_take_a_space(clip, pictures, tmp_path):
    from typer.testing import CliRunner

    from embkit.cli import app

    runner, mixed = CliRunner(), str(tmp_path / "mixed")
    assert runner.invoke(app, ["init", mixed, "--image-model", str(clip)]).exit_code == 0
    notes = tmp_path / "notes.jsonl"
    notes.write_text('{"id": "n1", "text": "a red square"}\n{"id": "n2", "text": "a green circle"}\n')
    done = runner.invoke(app, ["add", mixed, str(notes), *map(str, pictures)])
    assert done.exit_code == 0, done.output
    built = runner.invoke(app, ["index", mixed, "--space", "image", "--spec", "hnsw", "--json"])
    assert built.exit_code == 0 and json.loads(built.stdout)["spec"].startswith("hnsw")
    clustered = runner.invoke(app, ["cluster", mixed, "--space", "image", "-k", "2", "--json"])
    assert clustered.exit_code == 0 and json.loads(clustered.stdout)["documents"] == len(pictures)
    texts = runner.invoke(app, ["outliers", mixed, "--top", "5", "--k", "1", "--json"])
    assert sorted(r["id"] for r in json.loads(texts.stdout)["results"]) == ["n1", "n2"]  # the text space
    found = runner.invoke(app, ["search", mixed, "--space", "image", "--image", str(pictures[1]), "-k", "1", "--json"])
    assert json.loads(found.stdout)["hits"][0]["id"] == str(pictures[1])
    bad = runner.invoke(app, ["cluster", mixed, "--space", "audio"])
    assert bad.exit_code == 1 and "space: no space 'audio'" in str(bad.exception)


def test_photos_are_read_upright_and_large_ones_decoded_small(clip, tmp_path):
    from PIL import Image, ImageDraw

    stored = Image.new("RGB", (300, 200), (200, 30, 30))
    ImageDraw.Draw(stored).rectangle((10, 10, 120, 60), fill=(20, 20, 220))
    exif = Image.Exif()
    exif[274] = 6  # a phone held upright: stored landscape, shown rotated 90° clockwise
    rotated = tmp_path / "phone.jpg"
    stored.save(rotated, quality=95, exif=exif)
    big = tmp_path / "big.jpg"
    Image.new("RGB", (4000, 3000), (10, 120, 40)).save(big, quality=90)
    with embkit.create(tmp_path / "photos", model=f"{clip}#image") as col:
        col.add_images([str(rotated), str(big)])
        docs = {d.id: d for d in col.get([str(rotated), str(big)], include_vectors=True)}
        assert (docs[str(rotated)].metadata["width"], docs[str(rotated)].metadata["height"]) == (200, 300)
        assert (docs[str(big)].metadata["width"], docs[str(big)].metadata["height"]) == (4000, 3000)
        with Image.open(col.thumbnail(str(rotated))) as thumb:
            assert thumb.size[1] == 256 and thumb.size[0] < 256  # portrait, as shown
        with Image.open(col.thumbnail(str(big))) as thumb:
            assert thumb.size == (256, 192)
        with Image.open(rotated) as opened:
            # rotated by hand, and rebuilt from its pixels so no EXIF tag rides along
            upright = Image.fromarray(np.asarray(opened.convert("RGB").transpose(Image.Transpose.ROTATE_270)))
        expected = embkit.load_encoder(f"{clip}#image").encode([upright])
        np.testing.assert_allclose(docs[str(rotated)].vector, expected[0], atol=1e-5)


def test_a_map_of_images_shows_each_picture_on_hover(clip, pictures, tmp_path):
    with embkit.create(tmp_path / "photos", model=f"{clip}#image") as col:
        col.add_images([str(p) for p in pictures])
        result = col.map(tmp_path / "map.html", method="pca", color_by=None)
    page = (tmp_path / "map.html").read_text()
    assert result["points"] == len(pictures) and (tmp_path / "map.png").is_file()
    # plotly's JSON writes "/" as \u002f
    assert page.count('"data:image\\u002fwebp;base64,') == len(pictures) and "map-picture" in page
    with embkit.create(tmp_path / "texts") as col:
        col.add(["one text", "another text", "a third"], ids=["a", "b", "c"])
        col.map(tmp_path / "texts.html", method="pca", color_by=None)
    text_page = (tmp_path / "texts.html").read_text()
    assert "map-picture" not in text_page and '"data:image\\u002fwebp' not in text_page


def test_a_thumbnail_that_cannot_be_saved_loses_no_document(clip, pictures, tmp_path):
    """Thumbnails are saved after the write commits: one failing (a full disk, here a file
    where their folder goes) is warned about and drawn when first asked for; the documents
    stay (a server upload used to remove the files of documents that had landed)."""
    from embkit.image_documents import THUMBNAILS

    with embkit.create(tmp_path / "photos", model=f"{clip}#image") as col:
        (col.path / THUMBNAILS).write_text("in the way")
        with pytest.warns(UserWarning, match="thumbnail of .* not saved"):
            ids, skipped = col.add_images([str(p) for p in pictures[:2]])
        assert ids == [str(p) for p in pictures[:2]] and skipped == [] and col.count() == 2
        (col.path / THUMBNAILS).unlink()
        assert col.thumbnail(ids[0]).is_file()
