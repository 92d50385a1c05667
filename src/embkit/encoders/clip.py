"""CLIP-family dual encoders from a local folder in Hugging Face `CLIPModel` format
(config.json with model_type "clip", the weights, a tokenizer and
preprocessor_config.json): a text tower and an image tower that embed into one space.

The model's own preprocessing runs through `CLIPImageProcessor` (PIL + numpy; no
torchvision, which does not import beside the torch build used here). The image tower
is named `FOLDER#image`, so a vector space records which tower made it and
`load_encoder` finds it again. Needs the torch extra."""

import json
import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import EmbkitError
from .base import Progress, l2_normalize
from .torch import limit_torch_threads

IMAGE_SUFFIX = "#image"
_MODELS: dict[str, "ClipModel"] = {}
_LOCK = threading.Lock()


def is_clip_folder(path: Path) -> bool:
    config = path / "config.json"
    if not config.is_file():
        return False
    try:
        return json.loads(config.read_text()).get("model_type") == "clip"
    except ValueError:
        return False


class ClipModel:
    """The model, its tokenizer and image processor, loaded once for both towers."""

    def __init__(self, folder: Path):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import torch
            from transformers import AutoTokenizer, CLIPImageProcessor, CLIPModel
            from transformers.utils import logging as hf_logging
        except ImportError as e:
            raise EmbkitError(
                f"model: a CLIP folder needs torch and transformers: pip install 'embkit[torch]' ({e})"
            ) from e
        self.torch = torch
        hf_logging.disable_progress_bar()  # a bar per load is noise next to embkit's own
        try:
            self.model = CLIPModel.from_pretrained(str(folder), local_files_only=True).eval()
            self.tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
            self.processor = CLIPImageProcessor.from_pretrained(str(folder), local_files_only=True)
        except (OSError, ValueError) as e:
            first_line = str(e).splitlines()[0][:200]
            raise EmbkitError(f"model: {folder} is not a complete CLIP folder ({first_line})") from None
        self.dim = int(self.model.config.projection_dim)
        self.max_tokens = int(self.model.config.text_config.max_position_embeddings)

    def _features(self, output) -> np.ndarray:
        # transformers 5 returns a model output whose pooled projection is the embedding
        tensor = output if isinstance(output, self.torch.Tensor) else output.pooler_output
        return l2_normalize(tensor.detach().cpu().numpy().astype(np.float32))

    def text(self, texts: list[str]) -> np.ndarray:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt")
        with self.torch.inference_mode():
            return self._features(self.model.get_text_features(**batch))

    def images(self, images: list) -> np.ndarray:
        pixels = self.processor(images=images, return_tensors="pt")["pixel_values"]
        with self.torch.inference_mode():
            return self._features(self.model.get_image_features(pixel_values=pixels))


def clip_model(folder: Path) -> ClipModel:
    key = str(folder.resolve())
    with _LOCK:
        if key not in _MODELS:
            _MODELS[key] = ClipModel(folder)
        return _MODELS[key]


class ClipTextEncoder:
    """The text tower: texts in, unit vectors in the shared space out."""

    modality = "text"
    normalized = True

    def __init__(self, folder: Path, name: str | None = None, threads: int | None = None):
        self._clip = clip_model(folder)
        self.threads = limit_torch_threads(threads)
        self.name = name or str(folder.resolve())
        self.dim, self.max_tokens = self._clip.dim, self._clip.max_tokens
        self.paired = self.name + IMAGE_SUFFIX

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        texts = list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            chunk = texts[start:start + batch_size]
            out[start:start + len(chunk)] = self._clip.text(chunk)
            progress and progress(len(chunk))
        return out


class ClipImageEncoder:
    """The image tower: image paths (or PIL images) in, unit vectors out."""

    modality = "image"
    normalized = True
    max_tokens = 0  # images have no tokens

    def __init__(self, folder: Path, name: str | None = None, threads: int | None = None):
        self._clip = clip_model(folder)
        self.threads = limit_torch_threads(threads)
        self.paired = name or str(folder.resolve())
        self.name = self.paired + IMAGE_SUFFIX
        self.dim = self._clip.dim

    def encode(self, images: Sequence, batch_size: int = 16, progress: Progress | None = None) -> np.ndarray:
        images = list(images)
        out = np.empty((len(images), self.dim), dtype=np.float32)
        for start in range(0, len(images), batch_size):
            chunk = [open_image(i) for i in images[start:start + batch_size]]
            out[start:start + len(chunk)] = self._clip.images(chunk)
            progress and progress(len(chunk))
        return out


MAX_DECODE_PX = 1024  # image towers read 224 px or less: larger pictures are decoded smaller


def open_image(image):
    """A PIL image in RGB from a path, a file's bytes or a PIL image; a clear error
    naming a bad file."""
    import io

    from PIL import Image, UnidentifiedImageError

    if isinstance(image, Image.Image):
        return upright(image)
    source, what = (io.BytesIO(image), "the image given") if isinstance(image, bytes) else (Path(image), Path(image))
    try:
        with Image.open(source) as opened:
            return upright(opened)
    except (FileNotFoundError, IsADirectoryError):
        raise EmbkitError(f"image: {what} not found") from None
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise EmbkitError(f"image: {what} is not a readable image ({e.__class__.__name__})") from None


def upright(opened):
    """The picture as it is meant to be seen (EXIF orientation applied), in RGB, at most
    MAX_DECODE_PX on its longer side. A JPEG not yet decoded is decoded at a reduced
    scale (draft mode), which makes large photos several times faster to read."""
    from PIL import ImageOps

    if opened.format == "JPEG" and max(opened.size) > 2 * MAX_DECODE_PX:
        opened.draft("RGB", (MAX_DECODE_PX, MAX_DECODE_PX))
    picture = ImageOps.exif_transpose(opened).convert("RGB")
    if max(picture.size) > MAX_DECODE_PX:
        picture.thumbnail((MAX_DECODE_PX, MAX_DECODE_PX))
    return picture
