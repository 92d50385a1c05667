"""ONNX files that embkit builds once from a packaged model and keeps in its cache.

The fp32 graph is built from the safetensors weights (no torch); the int8 variant is
onnxruntime's dynamic quantization with per-channel scales (per-tensor loses too much:
cosine 0.96 against 0.992 measured). Files are named by a fingerprint of their source,
so a changed model is rebuilt, and written atomically so a crash leaves no half file.
"""

import hashlib
from pathlib import Path

from ..atomic import atomic_write
from ..paths import embkit_home

BUILD_VERSION = "2"  # bump when the graph builder changes


def _fingerprint(model_dir: Path) -> str:
    weights = model_dir / "model.safetensors"
    stat = weights.stat()
    key = f"{weights.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{BUILD_VERSION}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _label(model_dir: Path) -> str:
    """A readable file-name stem: the package name for packaged `…/model` folders."""
    return model_dir.parent.name if model_dir.name == "model" else model_dir.name


def fp32_onnx(model_dir: Path) -> Path:
    """The cached fp32 ONNX graph of the BERT checkpoint in `model_dir`, built if missing."""
    target = embkit_home() / "models" / f"{_label(model_dir)}-{_fingerprint(model_dir)}-fp32.onnx"
    if not target.exists():
        from .bert_graph import build_bert_onnx

        model = build_bert_onnx(model_dir)
        atomic_write(target, lambda tmp: tmp.write_bytes(model.SerializeToString()))
    return target


def int8_onnx(model_dir: Path) -> Path:
    """The cached int8 (dynamic, per-channel) variant of `fp32_onnx(model_dir)`."""
    target = embkit_home() / "models" / f"{_label(model_dir)}-{_fingerprint(model_dir)}-int8.onnx"
    if not target.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        source = fp32_onnx(model_dir)
        atomic_write(target, lambda tmp: quantize_dynamic(
            str(source), str(tmp), per_channel=True, weight_type=QuantType.QInt8))
    return target
