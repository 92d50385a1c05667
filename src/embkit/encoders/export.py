"""ONNX files that embkit builds once from a packaged model and keeps in its cache.

The fp32 graph is built from the safetensors weights (no torch); the int8 variant is
quantize_int8.py's recipe. Files are named by a fingerprint of their source (and the int8
one by its recipe too), so a changed model or recipe is rebuilt. Each is a small graph
file and its weights in `NAME.onnx.data` beside it, written together atomically
(onnx_weights.write_apart): onnxruntime maps the weights as they are, with no second copy
on disk, and the fp32 build writes each tensor as it is made (no serialized copy of them
all in memory: e5-small-multilingual's first load peaked at 2.8 GB building one).
"""

import hashlib
from pathlib import Path

from ..paths import embkit_home
from .onnx_weights import complete, drop_mapped_copies, file_identity, weights_file, write_apart

BUILD_VERSION = "4"  # bump when the graph builder changes (4: back to one attention for every batch, see fp32_onnx)


def _fingerprint(model_dir: Path) -> str:
    """The weights' identity and config.json's content: the graph is built from both (a
    config edited under the same weights, e.g. its layer norm eps, is rebuilt too)."""
    weights = model_dir / "model.safetensors"
    config = model_dir / "config.json"
    config_hash = hashlib.sha256(config.read_bytes()).hexdigest() if config.is_file() else "-"
    key = f"{weights.resolve()}|{file_identity(weights.stat())}|{config_hash}|{BUILD_VERSION}"  # a synced-over file too
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _label(model_dir: Path) -> str:
    """A readable file-name stem: the package name for packaged `…/model` folders."""
    return model_dir.parent.name if model_dir.name == "model" else model_dir.name


def fp32_onnx(model_dir: Path) -> Path:
    """The cached fp32 ONNX graph of the BERT checkpoint in `model_dir`, built if missing.
    One attention for every batch: the fused one for unpadded batches (bert_graph's
    `unpadded_attention`, 7-8% faster on abstracts) rounds differently from the masked
    one, so a text's vector depended on whether its batch was padded (1e-7 apart), and
    embkit's vectors are the same for a text whatever it is batched with."""
    target = embkit_home() / "models" / f"{_label(model_dir)}-{_fingerprint(model_dir)}-fp32.onnx"
    if not complete(target):  # a graph of an older embkit, its weights inside, is made again apart
        _write_or_keep(target, lambda path: _write_fp32(model_dir, path))
    return target


def _write_or_keep(target: Path, write) -> None:
    """`target` written apart (write_apart) and the -mapped copies of an older one removed;
    an older export (weights inside) kept as it is when EMBKIT_HOME cannot be written (a
    read-only mount, a full disk): it loads as before, rather than not at all."""
    try:
        write_apart(target, write)
    except OSError:
        if not _holds_its_weights(target):  # nothing to fall back on (or a graph whose weights file is gone)
            raise
        return
    drop_mapped_copies(target)


def _holds_its_weights(path: Path) -> bool:
    """True for a model file with every weight inside (an older embkit's export)."""
    import onnx
    from onnx.external_data_helper import uses_external_data

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # missing, or not a model (onnx raises its own errors for a bad file)
        return False
    return not any(uses_external_data(t) for t in model.graph.initializer)


def _write_fp32(model_dir: Path, path: Path) -> None:
    import onnx

    from .bert_graph import build_bert_onnx

    onnx.save_model(build_bert_onnx(model_dir, weights=weights_file(path)), str(path))
    onnx.checker.check_model(str(path))  # reads the small graph, not the weights


def int8_onnx(model_dir: Path) -> Path:
    """The cached int8 variant of the BERT checkpoint in `model_dir`, built if missing."""
    from .quantize_int8 import recipe_tag, write_int8_bert

    name = f"{_label(model_dir)}-{_fingerprint(model_dir)}-int8-{recipe_tag()}.onnx"
    target = embkit_home() / "models" / name
    if not complete(target):
        _write_or_keep(target, lambda path: write_int8_bert(model_dir, path))
    return target
