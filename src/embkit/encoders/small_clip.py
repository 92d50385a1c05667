"""The image–text model `embkit train clip` makes: a small CNN image tower and a frozen
text encoder (a catalog model such as minilm) with a learned linear projection, both
into one normalized space. A folder holds `embkit-clip.json`, `image_tower.safetensors`
and `text_projection.safetensors`. The text tower needs no torch (the projection is a
matrix product); the image tower runs the CNN on torch."""

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import EmbkitError
from .base import Encoder, Progress, l2_normalize
from .clip import IMAGE_SUFFIX, open_image
from .torch import limit_torch_threads

CONFIG = "embkit-clip.json"
IMAGE_WEIGHTS = "image_tower.safetensors"
TEXT_WEIGHTS = "text_projection.safetensors"


def is_small_clip_folder(path: Path) -> bool:
    return (path / CONFIG).is_file()


def read_config(folder: Path) -> dict:
    try:
        config = json.loads((folder / CONFIG).read_text())
        if config.get("format") != "embkit-clip":
            raise ValueError("not an embkit-clip config")
        return config
    except (OSError, ValueError) as e:
        raise EmbkitError(f"model: {folder / CONFIG} is not a readable embkit-clip config ({e})") from None


def image_tower(config: dict, channels: int = 3):
    """The CNN: three conv blocks (conv, batch norm, ReLU; pooled), global average
    pooling and a linear map into the shared space. Built fresh from the config.
    `channels` in: 3 for RGB, 1 for a log-mel spectrogram (small_clap.py)."""
    import torch.nn as nn

    widths, layers = config["widths"], []
    for i, width in enumerate(widths):
        layers += [nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
        layers.append(nn.MaxPool2d(2) if i < len(widths) - 1 else nn.AdaptiveAvgPool2d(1))
        channels = width
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels, config["dim"]))


def load_tower(folder: Path, kind: str, read, build, weights: str, threads: int | None):
    """Torch (or an error naming the extra), the folder's config (`read`), the `kind` tower
    `build` makes from it with its `weights` loaded, in eval mode, and the thread cap set:
    what the image and the audio tower encoders share."""
    try:
        import torch
        from safetensors.torch import load_file
    except ImportError as e:
        raise EmbkitError(
            f"model: the {kind} tower of {folder} needs torch: pip install 'embkit[torch]' ({e})"
        ) from e
    config = read(folder)
    threads = limit_torch_threads(threads)
    tower = build(config)
    tower.load_state_dict(load_file(str(folder / weights)))
    tower.eval()
    return torch, config, tower, threads


def pixels(images: Sequence, size: int) -> np.ndarray:
    """(n, 3, size, size) float32 in [-1, 1] from paths or PIL images."""
    from PIL import Image

    out = np.empty((len(images), 3, size, size), dtype=np.float32)
    for i, image in enumerate(images):
        picture = open_image(image).resize((size, size), Image.BILINEAR)
        out[i] = (np.asarray(picture, dtype=np.float32).transpose(2, 0, 1) / 127.5) - 1.0
    return out


class SmallClipTextEncoder:
    """Texts → the frozen text model → projection → unit vectors in the shared space."""

    modality = "text"
    normalized = True
    other_suffix = IMAGE_SUFFIX  # the paired tower's (small_clap.py's text tower pairs with #audio)

    def __init__(self, folder: Path, base: Encoder, name: str | None = None):
        """`base` is the loaded text model the folder's config names (`text_model`)."""
        from .safetensors_reader import read_safetensors

        config = self.read_config(folder)
        self._base, self.threads = base, base.threads
        weights = read_safetensors(folder / TEXT_WEIGHTS)  # no torch, no safetensors package
        self._weight, self._bias = weights["weight"].T.copy(), weights["bias"]
        self.name = name or str(folder.resolve())
        self.dim, self.max_tokens = int(config["dim"]), self._base.max_tokens
        self.paired = self.name + self.other_suffix

    @staticmethod
    def read_config(folder: Path) -> dict:
        return read_config(folder)

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        base = self._base.encode(list(texts), batch_size=batch_size, progress=progress)
        return l2_normalize(base @ self._weight + self._bias)


class SmallClipImageEncoder:
    """Images (paths or PIL) → the CNN → unit vectors in the shared space."""

    modality = "image"
    normalized = True
    max_tokens = 0

    def __init__(self, folder: Path, name: str | None = None, threads: int | None = None):
        self._torch, config, self._tower, self.threads = load_tower(
            folder, "image", read_config, image_tower, IMAGE_WEIGHTS, threads)
        self._size = int(config["image_size"])
        self.paired = name or str(folder.resolve())
        self.name, self.dim = self.paired + IMAGE_SUFFIX, int(config["dim"])

    def encode(self, images: Sequence, batch_size: int = 64, progress: Progress | None = None) -> np.ndarray:
        images = list(images)
        out = np.empty((len(images), self.dim), dtype=np.float32)
        for start in range(0, len(images), batch_size):
            chunk = images[start:start + batch_size]
            with self._torch.inference_mode():
                batch = self._torch.from_numpy(pixels(chunk, self._size))
                out[start:start + len(chunk)] = self._tower(batch).numpy()
            progress and progress(len(chunk))
        return l2_normalize(out)
