"""A random one-layer BERT checkpoint of 50 KB (config.json + model.safetensors, what
encoders/export.py reads), written with numpy and safetensors alone: tests that build an
export without a packaged model. A plain module, like live_server.py."""

from pathlib import Path

import numpy as np

HIDDEN, INNER, VOCAB = 32, 64, 64  # a one-layer BERT of 50 KB: the disk holds it whatever else is on it


def tiny_bert(folder: Path) -> Path:
    """config.json and model.safetensors of a random one-layer BERT (what export reads)."""
    import json

    from safetensors.numpy import save_file

    square = (HIDDEN, HIDDEN)
    shapes = {"embeddings.word_embeddings.weight": (VOCAB, HIDDEN),
              "embeddings.position_embeddings.weight": (64, HIDDEN),
              "embeddings.token_type_embeddings.weight": (2, HIDDEN), "embeddings.LayerNorm.weight": (HIDDEN,),
              "embeddings.LayerNorm.bias": (HIDDEN,)}
    layer = {"attention.self.query": square, "attention.self.key": square, "attention.self.value": square,
             "attention.output.dense": square, "intermediate.dense": (INNER, HIDDEN), "output.dense": (HIDDEN, INNER)}
    for name, shape in layer.items():
        shapes[f"encoder.layer.0.{name}.weight"], shapes[f"encoder.layer.0.{name}.bias"] = shape, shape[:1]
    for name in ("attention.output.LayerNorm", "output.LayerNorm"):
        shapes[f"encoder.layer.0.{name}.weight"] = shapes[f"encoder.layer.0.{name}.bias"] = (HIDDEN,)
    rng = np.random.default_rng(0)
    folder.mkdir()
    save_file({name: rng.normal(0, 0.02, shape).astype(np.float32) for name, shape in shapes.items()},
              str(folder / "model.safetensors"))
    config = {"model_type": "bert", "hidden_size": HIDDEN, "intermediate_size": INNER, "num_attention_heads": 2,
              "num_hidden_layers": 1, "vocab_size": VOCAB, "max_position_embeddings": 64, "type_vocab_size": 2,
              "layer_norm_eps": 1e-12, "hidden_act": "gelu", "pad_token_id": 0}
    (folder / "config.json").write_text(json.dumps(config))
    return folder
