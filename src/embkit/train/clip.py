"""`embkit train clip`: a small image–text dual encoder on CPU. The image tower is a
small CNN (encoders/small_clip.py); the text tower is a frozen catalog model (minilm)
plus a learned projection. Both are trained with the symmetric InfoNCE loss and a
learned temperature; captions that are equal within a batch count as positives of each
other (a class-level dataset repeats captions).

The frozen text model embeds each distinct caption once, before training. A held-out
share of the pairs gives the before (random init) and after scores: zero-shot
classification by text prompts (when captions carry a `label`) and text→image
recall@10. A checkpoint is written after every epoch into `.<OUT>.partial/`; the same
command resumes from it. The result is registered by name, like a catalog model:
`NAME` is the text tower and `NAME#image` the image tower. The run is train/two_tower.py's,
shared with `embkit train clap`."""

from pathlib import Path

from ..errors import EmbkitError
from .captions import Pair, read_captions  # noqa: F401 (the captions format is this command's first)
from .two_tower import Modality, check_run, train_two_tower
from .two_tower_scores import evaluate  # noqa: F401


def train_clip(out: str | Path, images: str | Path, captions: str | Path, *, text_model: str = "minilm",
               dim: int = 64, image_size: int = 32, widths: tuple[int, ...] = (32, 64, 128), epochs: int = 10,
               batch_size: int = 128, lr: float = 2e-3, holdout: float = 0.2, prompt: str = "a photo of {}",
               seed: int = 0, name: str | None = None, overwrite: bool = False, progress=None,
               steps_known=None) -> dict:
    """Train, save to `out`, register, and evaluate before/after on the held-out pairs.
    `steps_known(total)` hears the number of optimizer steps before training starts."""
    _check(dim, image_size, widths, epochs, batch_size, lr, holdout, prompt)
    config = {"format": "embkit-clip", "version": 1, "text_model": text_model, "dim": dim, "image_size": image_size,
              "widths": list(widths)}
    return train_two_tower(out, images, captions, image_modality(), config, text_model=text_model, epochs=epochs,
                           batch_size=batch_size, lr=lr, holdout=holdout, prompt=prompt, seed=seed, name=name,
                           overwrite=overwrite, progress=progress, steps_known=steps_known,
                           facts={"dim": dim, "image_size": image_size, "widths": list(widths)})


def image_modality() -> Modality:
    """Images: resized pixels through the small CNN of encoders/small_clip.py."""
    from ..encoders.clip import IMAGE_SUFFIX
    from ..encoders.small_clip import CONFIG, IMAGE_WEIGHTS, TEXT_WEIGHTS, image_tower, pixels

    return Modality("clip", "image", "images", IMAGE_SUFFIX, image_tower,
                    lambda paths, config: pixels(paths, config["image_size"]), (CONFIG, IMAGE_WEIGHTS, TEXT_WEIGHTS))


def _check(dim, image_size, widths, epochs, batch_size, lr, holdout, prompt) -> None:
    check_run(dim, widths, epochs, batch_size, lr, holdout, prompt)
    if not 8 <= image_size <= 512:
        raise EmbkitError("image_size: must be between 8 and 512")
    if image_size // 2 ** (len(widths) - 1) < 1:
        raise EmbkitError(f"image_size: {image_size} is too small for {len(widths)} pooling steps")
