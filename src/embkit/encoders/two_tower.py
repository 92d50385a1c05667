"""What the Hugging Face two-tower folders (CLIP: text + image, CLAP: text + audio)
share: reading the folder's model type, one loaded model per folder for both towers,
the text tower, and the batching of the other tower. clip.py and clap.py add only their
model class and how their other tower reads its inputs. Needs the torch extra."""

import json
import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import EmbkitError
from .base import Progress, l2_normalize
from .torch import limit_torch_threads

_MODELS: dict[tuple, "TwoTowerModel"] = {}
_LOCK = threading.Lock()


def model_type(path: Path) -> str | None:
    """The `model_type` of a folder's config.json ("clip", "clap", ...), or None."""
    config = path / "config.json"
    if not config.is_file():
        return None
    try:
        found = json.loads(config.read_text()).get("model_type")
    except (ValueError, AttributeError, OSError):
        return None
    return found if isinstance(found, str) else None


class TwoTowerModel:
    """A transformers dual encoder, its tokenizer and its preprocessor for the other
    modality, loaded once for both towers. Subclasses say what to load."""

    kind = "two-tower"  # named in errors: "CLIP", "CLAP"

    def __init__(self, folder: Path):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
        try:
            import torch
            import transformers  # noqa: F401
            from transformers.utils import logging as hf_logging
        except ImportError as e:
            raise EmbkitError(
                f"model: a {self.kind} folder needs torch and transformers: pip install 'embkit[torch]' ({e})"
            ) from e
        self.torch = torch
        hf_logging.disable_progress_bar()  # a bar per load is noise next to embkit's own
        try:
            self.model, self.tokenizer, self.processor = self.load(str(folder))
        except (OSError, ValueError, KeyError) as e:
            first_line = (str(e).splitlines() or [type(e).__name__])[0][:200]
            raise EmbkitError(f"model: {folder} is not a complete {self.kind} folder ({first_line})") from None
        self.model.eval()
        self.dim = int(self.model.config.projection_dim)
        self.max_tokens = self.text_window()

    def load(self, folder: str) -> tuple:
        """(model, tokenizer, preprocessor) from the folder, offline."""
        raise NotImplementedError

    def text_window(self) -> int:
        """The most tokens the text tower reads."""
        return int(self.model.config.text_config.max_position_embeddings)

    def features(self, output) -> np.ndarray:
        """Unit float32 rows from a `get_*_features` result."""
        # transformers 5 returns a model output whose pooled projection is the embedding
        tensor = output if isinstance(output, self.torch.Tensor) else output.pooler_output
        return l2_normalize(tensor.detach().cpu().numpy().astype(np.float32))

    def text(self, texts: list[str]) -> np.ndarray:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt")
        with self.torch.inference_mode():
            return self.features(self.model.get_text_features(**batch))


def shared_model(folder: Path, model_class: type) -> TwoTowerModel:
    """The folder's model, loaded once per process while its config.json is unchanged."""
    config = folder / "config.json"
    key = (model_class.__name__, str(folder.resolve()), config.stat().st_mtime_ns if config.exists() else 0)
    with _LOCK:
        if key not in _MODELS:
            _MODELS[key] = model_class(folder)
        return _MODELS[key]


def in_batches(items: list, batch_size: int, dim: int, embed, progress: Progress | None) -> np.ndarray:
    """`embed` over `items` a batch at a time into one (n, dim) float32 array."""
    out = np.empty((len(items), dim), dtype=np.float32)
    for start in range(0, len(items), batch_size):
        chunk = items[start:start + batch_size]
        out[start:start + len(chunk)] = embed(chunk)
        progress and progress(len(chunk))
    return out


class TextTower:
    """The text tower: texts in, unit vectors in the shared space out. Subclasses set
    `model_class` and `other_suffix` (the other tower's name is this name + suffix)."""

    modality = "text"
    normalized = True
    model_class: type = TwoTowerModel
    other_suffix = ""

    def __init__(self, folder: Path, name: str | None = None, threads: int | None = None):
        self._model = shared_model(folder, self.model_class)
        self.threads = limit_torch_threads(threads)
        self.name = name or str(folder.resolve())
        self.dim, self.max_tokens = self._model.dim, self._model.max_tokens
        self.paired = self.name + self.other_suffix

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        return in_batches(list(texts), batch_size, self.dim, self._model.text, progress)


class OtherTower:
    """The image or audio tower, named `FOLDER` + `suffix`: inputs in, unit vectors out.
    Subclasses set `modality`, `suffix`, `model_class` and `embed(batch)`."""

    normalized = True
    max_tokens = 0  # images and sounds have no tokens
    modality = ""
    suffix = ""
    model_class: type = TwoTowerModel

    def __init__(self, folder: Path, name: str | None = None, threads: int | None = None):
        self._model = shared_model(folder, self.model_class)
        self.threads = limit_torch_threads(threads)
        self.paired = name or str(folder.resolve())
        self.name = self.paired + self.suffix
        self.dim = self._model.dim

    def encode(self, items: Sequence, batch_size: int = 16, progress: Progress | None = None) -> np.ndarray:
        return in_batches(list(items), batch_size, self.dim, self.embed, progress)

    def embed(self, batch: list) -> np.ndarray:
        """Unit vectors for one batch of inputs."""
        raise NotImplementedError
