"""CLIP-family dual encoders from a local folder in Hugging Face `CLIPModel` format
(config.json with model_type "clip", the weights, a tokenizer and
preprocessor_config.json): a text tower and an image tower that embed into one space.

The model's own preprocessing runs through `CLIPImageProcessor` (PIL + numpy; no
torchvision, which does not import beside the torch build used here). The image tower
is named `FOLDER#image`, so a vector space records which tower made it and
`load_encoder` finds it again. Needs the torch extra."""

from pathlib import Path

import numpy as np

from ..errors import EmbkitError
from .two_tower import OtherTower, TextTower, TwoTowerModel, model_type

IMAGE_SUFFIX = "#image"


def is_clip_folder(path: Path) -> bool:
    return model_type(path) == "clip"


class ClipModel(TwoTowerModel):
    """The model, its tokenizer and image processor, loaded once for both towers."""

    kind = "CLIP"

    def load(self, folder: str) -> tuple:
        from transformers import AutoTokenizer, CLIPImageProcessor, CLIPModel

        return (CLIPModel.from_pretrained(folder, local_files_only=True),
                AutoTokenizer.from_pretrained(folder, local_files_only=True),
                CLIPImageProcessor.from_pretrained(folder, local_files_only=True))

    def images(self, images: list) -> np.ndarray:
        pixels = self.processor(images=images, return_tensors="pt")["pixel_values"]
        with self.torch.inference_mode():
            return self.features(self.model.get_image_features(pixel_values=pixels))


class ClipTextEncoder(TextTower):
    """The text tower: texts in, unit vectors in the shared space out."""

    model_class = ClipModel
    other_suffix = IMAGE_SUFFIX


class ClipImageEncoder(OtherTower):
    """The image tower: image paths (or PIL images) in, unit vectors out."""

    modality = "image"
    suffix = IMAGE_SUFFIX
    model_class = ClipModel

    def embed(self, batch: list) -> np.ndarray:
        return self._model.images([open_image(i) for i in batch])


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
