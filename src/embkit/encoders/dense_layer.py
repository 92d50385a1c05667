"""A sentence-transformers `Dense` module between pooling and normalization (how a
rotated or projected model stores its last linear layer), read without torch so the
ONNX query path applies the same projection the torch path does."""

import json
from pathlib import Path

import numpy as np

from ..errors import EmbkitError
from .safetensors_reader import read_safetensors

DENSE_TYPES = ("sentence_transformers.models.Dense", "sentence_transformers.base.modules.dense.Dense")
IDENTITY = ("torch.nn.modules.linear.Identity", "torch.nn.Identity")


class Projection:
    """y = W·x (+ b) on pooled vectors; only identity activations (a linear map)."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray | None = None):
        self.weight = np.ascontiguousarray(weight, dtype=np.float32)
        self.bias = None if bias is None else np.asarray(bias, dtype=np.float32)

    @property
    def out_dim(self) -> int:
        return self.weight.shape[0]

    def __call__(self, pooled: np.ndarray) -> np.ndarray:
        out = pooled @ self.weight.T
        return out + self.bias if self.bias is not None else out


def dense_modules(model_dir: Path) -> list[dict]:
    """The Dense entries of the folder's modules.json, in order."""
    modules = model_dir / "modules.json"
    if not modules.is_file():
        return []
    return [m for m in json.loads(modules.read_text()) if m.get("type") in DENSE_TYPES]


def read_projection(model_dir: Path) -> Projection | None:
    """The folder's Dense module as a Projection, or None when it has none."""
    dense = dense_modules(model_dir)
    if not dense:
        return None
    if len(dense) > 1:
        raise EmbkitError(f"model: {model_dir} has {len(dense)} Dense modules; embkit reads at most one")
    folder = model_dir / dense[0]["path"]
    config = json.loads((folder / "config.json").read_text())
    if config.get("activation_function", IDENTITY[0]) not in IDENTITY or config.get("use_residual"):
        raise EmbkitError(f"model: the Dense module in {folder} is not a plain linear map "
                          f"(activation {config.get('activation_function')!r}); embkit reads identity activations only")
    tensors = read_safetensors(folder / "model.safetensors")
    weight = tensors["linear.weight"]
    if weight.shape != (config["out_features"], config["in_features"]):
        raise EmbkitError(f"model: {folder} weight shape {weight.shape} does not match its config")
    return Projection(weight, tensors.get("linear.bias") if config.get("bias", True) else None)


def write_projection(model_dir: Path, weight: np.ndarray, folder_name: str) -> None:
    """Save `weight` as an identity-activation Dense module (no bias) and insert it into
    modules.json right after Pooling, so both sentence-transformers and embkit apply it
    before normalization."""
    from safetensors.numpy import save_file

    folder = model_dir / folder_name
    folder.mkdir()
    out_dim, in_dim = weight.shape
    config = {"in_features": int(in_dim), "out_features": int(out_dim), "bias": False,
              "activation_function": IDENTITY[0]}
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    save_file({"linear.weight": np.ascontiguousarray(weight, dtype=np.float32)}, str(folder / "model.safetensors"))
    modules = json.loads((model_dir / "modules.json").read_text())
    at = next((i + 1 for i, m in enumerate(modules) if "Pooling" in m.get("type", "")), None)
    if at is None:
        raise EmbkitError(f"model: {model_dir}/modules.json has no Pooling module")
    modules.insert(at, {"idx": at, "name": str(at), "path": folder_name, "type": DENSE_TYPES[0]})
    for i, module in enumerate(modules):  # paths of the other modules stay as they are
        module["idx"], module["name"] = i, str(i)
    (model_dir / "modules.json").write_text(json.dumps(modules, indent=2))
