"""Every encoder kind keeps the `Encoder` protocol, `paired` and `threads` included, so
callers read them without knowing the backend; `load_encoder(threads=)` is the public
way to cap a model's inference threads (a Ray worker on a share of the machine)."""

import numpy as np
import pytest

from embkit.encoders import Encoder, load_encoder
from embkit.encoders.tokenizer_files import encoder_tokenizer
from embkit.errors import EmbkitError

FIELDS = ("name", "dim", "normalized", "max_tokens", "modality", "paired", "threads")
TEXTS = ["a cat sat on the mat", "share prices dropped sharply", "the river bank flooded"]


def _fields(encoder) -> dict:
    return {field: getattr(encoder, field) for field in FIELDS}


def test_the_onnx_encoder_keeps_the_protocol(minilm):
    assert isinstance(minilm, Encoder)
    assert _fields(minilm) == {"name": "minilm", "dim": 384, "normalized": True, "max_tokens": 256,
                               "modality": "text", "paired": None, "threads": None}


def test_a_word_vector_file_keeps_the_protocol(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("cat 1 0 0\nmat 0 1 0\ndog 0 0 1\n")
    encoder = load_encoder(str(path))
    assert isinstance(encoder, Encoder)
    assert _fields(encoder) == {"name": str(path.resolve()), "dim": 3, "normalized": True,
                                "max_tokens": encoder.max_tokens, "modality": "text", "paired": None, "threads": 1}


def test_a_thread_cap_gives_its_own_shared_encoder_with_the_same_vectors(minilm):
    capped = load_encoder("minilm", threads=1)
    assert capped is not minilm and capped.threads == 1
    assert load_encoder("minilm", threads=1) is capped  # loaded once per process and setting
    assert load_encoder("minilm") is minilm
    np.testing.assert_allclose(capped.encode(TEXTS), minilm.encode(TEXTS), atol=1e-6)


@pytest.mark.parametrize("threads", [0, -2, 1.5, "2", True])
def test_a_bad_thread_cap_is_refused_naming_the_field(threads):
    with pytest.raises(EmbkitError, match=r"^threads: must be a whole number of at least 1"):
        load_encoder("minilm", threads=threads)


def test_the_tokenizer_of_an_encoder_object_is_its_public_one_without_truncation(minilm):
    long_text = " ".join(["cat"] * 400)  # one word piece each
    assert minilm.token_counts([long_text]) == [256]  # the encoder reads its window
    assert len(encoder_tokenizer(minilm).encode(long_text).ids) == 402  # counting sees it all ([CLS] + 400 + [SEP])
    assert encoder_tokenizer(minilm) is minilm.tokenizer  # one shared tokenizer: the encoder cuts ids itself
    assert minilm.token_counts([long_text]) == [256]  # and counting did not reconfigure it


def test_both_towers_of_a_clip_folder_name_each_other_as_paired(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from clip_maker import make_tiny_clip

    folder = make_tiny_clip(tmp_path / "tiny-clip")
    text, image = load_encoder(str(folder)), load_encoder(f"{folder}#image")
    assert isinstance(text, Encoder) and isinstance(image, Encoder)
    name = str(folder.resolve())
    assert (text.name, text.paired, text.modality, text.threads) == (name, name + "#image", "text", None)
    assert (image.name, image.paired, image.modality, image.threads) == (name + "#image", name, "image", None)
    assert load_encoder(text.paired) is image  # the paired name loads the other tower
