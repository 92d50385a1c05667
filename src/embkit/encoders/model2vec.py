"""A model2vec static model (from `embkit train distill`): token vectors distilled from
a transformer, averaged per text. No transformer runs at query time, so it is tens of
times faster than the model it came from; model2vec's own `StaticModel` does the
tokenizing and pooling, so vectors are exactly what model2vec gives."""

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import EmbkitError
from .base import Progress


def is_model2vec_folder(path: Path) -> bool:
    config = path / "config.json"
    if not config.is_file():
        return False
    try:
        settings = json.loads(config.read_text())
    except ValueError:
        return False
    return isinstance(settings, dict) and settings.get("model_type") == "model2vec"


class Model2VecEncoder:
    """The Encoder protocol over `model2vec.StaticModel`."""

    modality = "text"
    paired = None
    threads = 1  # looks vectors up on the calling thread (no multiprocessing)

    def __init__(self, folder: Path, name: str | None = None):
        try:
            from model2vec import StaticModel
        except ImportError:
            raise EmbkitError("model: a model2vec folder needs the model2vec package: pip install model2vec") from None
        self._model = StaticModel.from_pretrained(str(folder))
        config = json.loads((folder / "config.json").read_text())
        self.name = name or str(folder.resolve())
        self.dim = int(self._model.dim)
        self.normalized = bool(config.get("normalize", True))
        self.max_tokens = int(config.get("max_length") or 512)

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        step = max(batch_size, 1024)  # per-call overhead dominates small batches of a static model
        for start in range(0, len(texts), step):
            batch = list(texts[start:start + step])
            out[start:start + len(batch)] = self._model.encode(batch, use_multiprocessing=False,
                                                               max_length=self.max_tokens)
            if progress:
                progress(len(batch))
        return out
