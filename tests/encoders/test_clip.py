"""The CLIP loading path on a tiny random CLIPModel saved by the test: both towers embed
into one normalized space, the towers are found by name (`FOLDER`, `FOLDER#image`),
vectors survive a save/reload unchanged and equal transformers' own computation, and
bad images or folders get a clear error."""

import shutil

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("torch")

import embkit  # noqa: E402
from embkit.encoders import clip as clip_module  # noqa: E402
from embkit.errors import EmbkitError  # noqa: E402
from embkit.search.exact import top_k  # noqa: E402

from clip_maker import make_tiny_clip  # noqa: E402

COLOURS = [(220, 20, 20), (20, 200, 40), (30, 40, 220), (240, 240, 240)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    from PIL import Image, ImageDraw

    paths = []
    for i, colour in enumerate(COLOURS):
        image = Image.new("RGB", (48 + 8 * i, 40), colour)
        ImageDraw.Draw(image).ellipse((5, 5, 30, 30), fill=(i * 60, 255 - i * 60, 128))
        path = tmp_path_factory.mktemp("img") / f"p{i}.{'png' if i % 2 else 'jpg'}"
        image.save(path)
        paths.append(path)
    return paths


def test_both_towers_embed_into_one_normalized_space(folder, images):
    text = embkit.load_encoder(str(folder))
    image = embkit.load_encoder(str(folder) + "#image")
    assert (text.modality, image.modality) == ("text", "image")
    assert text.paired == image.name and image.paired == text.name
    t = text.encode(["a red bicycle", "a blue square", "a handwritten seven"])
    v = image.encode(images)
    assert t.shape == (3, 16) and v.shape == (4, 16) and t.dtype == v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    # search plumbing across towers: every image finds itself first; a text ranks all images
    ids, _ = top_k(v, v, 1, "cosine")
    assert np.asarray(ids)[:, 0].tolist() == [0, 1, 2, 3]
    ranked, _ = top_k(t[:1], v, 4, "cosine")
    assert sorted(np.asarray(ranked)[0].tolist()) == [0, 1, 2, 3]


def test_vectors_equal_transformers_and_survive_save_and_reload(folder, images, tmp_path):
    import torch
    from PIL import Image
    from transformers import AutoTokenizer, CLIPImageProcessor, CLIPModel

    model = CLIPModel.from_pretrained(str(folder)).eval()
    tokens = AutoTokenizer.from_pretrained(str(folder))(["a red bicycle"], return_tensors="pt")
    pixels = CLIPImageProcessor.from_pretrained(str(folder))(images=[Image.open(images[0]).convert("RGB")],
                                                             return_tensors="pt")["pixel_values"]
    with torch.inference_mode():
        out_t, out_v = model.get_text_features(**tokens), model.get_image_features(pixel_values=pixels)
    # transformers 5 returns an output object whose pooled projection is the embedding
    ref_t, ref_v = ((o if isinstance(o, torch.Tensor) else o.pooler_output).numpy() for o in (out_t, out_v))
    ours_t = embkit.load_encoder(str(folder)).encode(["a red bicycle"])
    ours_v = embkit.load_encoder(str(folder) + "#image").encode(images[:1])
    np.testing.assert_allclose(ours_t, ref_t / np.linalg.norm(ref_t), atol=1e-5)
    np.testing.assert_allclose(ours_v, ref_v / np.linalg.norm(ref_v), atol=1e-5)

    copy = shutil.copytree(folder, tmp_path / "copied-clip")  # a saved model, loaded afresh elsewhere
    again = embkit.load_encoder(str(copy) + "#image").encode(images)
    np.testing.assert_allclose(again, embkit.load_encoder(str(folder) + "#image").encode(images), atol=1e-6)


def test_bad_images_and_folders_get_clear_errors(folder, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image at all")
    image = embkit.load_encoder(str(folder) + "#image")
    with pytest.raises(EmbkitError, match="broken.png is not a readable image"):
        image.encode([broken])
    with pytest.raises(EmbkitError, match="missing.jpg not found"):
        image.encode([tmp_path / "missing.jpg"])
    half = tmp_path / "half-clip"
    half.mkdir()
    shutil.copy(folder / "config.json", half / "config.json")  # says CLIP, holds no weights
    with pytest.raises(EmbkitError, match="not a complete CLIP folder"):
        embkit.load_encoder(str(half))
    assert clip_module.is_clip_folder(folder) and not clip_module.is_clip_folder(tmp_path)
