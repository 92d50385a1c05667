"""Vector spaces: the names a collection gives them and the space a model's vectors make."""

import re

from ..encoders import CATALOG, Encoder, load_encoder
from ..errors import EmbkitError
from ..store import Space

DEFAULT_SPACE = "text"
IMAGE_SPACE = "image"
SPACE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def space_of(model: str, metric: str, name: str | None = None, dim: int | None = None) -> tuple[Space, Encoder | None]:
    """The space a model's vectors make, named `image` for an image tower and `text`
    otherwise unless `name` says; with the encoder if it had to be loaded to know."""
    entry, encoder = CATALOG.get(model), None
    if entry is not None and not entry.missing():
        model_name, model_dim, normalized, modality = entry.name, entry.dim, entry.normalized, entry.modality
    else:  # an unknown name, a folder, or a missing package: loading says what is wrong
        encoder = load_encoder(model)
        model_name, model_dim, normalized, modality = encoder.name, encoder.dim, encoder.normalized, encoder.modality
    if dim is not None and dim != model_dim:
        raise EmbkitError(f"dim: {dim} does not match model {model_name!r} ({model_dim}-d)")
    if name == IMAGE_SPACE and modality != "image":
        paired = encoder.paired if encoder is not None else None
        if paired is None:
            raise EmbkitError(f"image_model: {model!r} embeds {modality}, not images, and has no paired image tower")
        return space_of(paired, metric, name=name)
    name = name or (IMAGE_SPACE if modality == "image" else DEFAULT_SPACE)
    return Space(name, model_name, model_dim, metric, normalized), encoder
