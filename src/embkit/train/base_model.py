"""The transformer folder a training command starts from: a catalog name (its packaged
weights), a registered trained model or a local model folder."""

from pathlib import Path

from ..encoders.model_folders import transformer_folder
from ..errors import EmbkitError


def base_folder(base: str) -> Path:
    folder = transformer_folder(base, "base")
    if not (folder / "config.json").is_file():
        raise EmbkitError(f"base: {base!r} is neither a catalog model, a registered model nor a model folder "
                          "with config.json")
    return folder
