"""Vector spaces: the names a collection gives them and the space a model's vectors make."""

import re

from ..encoders import CATALOG, Encoder, load_encoder
from ..errors import EmbkitError
from ..store import Space

DEFAULT_SPACE = "text"
IMAGE_SPACE = "image"
AUDIO_SPACE = "audio"
TOWER_SPACES = {IMAGE_SPACE: "image", AUDIO_SPACE: "audio"}  # space name -> the modality it embeds
SPACE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def paired_tower(model: str, modality: str) -> str:
    """The name of text model `model`'s other tower embedding `modality` (`image`,
    `audio`) into the same space: a registered model's `paired`, else `MODEL#image` /
    `MODEL#audio` (how a CLIP or CLAP folder's towers are named)."""
    entry = CATALOG.get(model)
    return entry.paired if entry is not None and entry.paired else f"{model}#{modality}"


def space_of(
    model: str, metric: str, name: str | None = None, dim: int | None = None, paired: bool = False
) -> tuple[Space, Encoder | None]:
    """The space a model's vectors make, named `image` for an image tower, `audio` for
    an audio tower and `text` otherwise unless `name` says; with the encoder if it had
    to be loaded to know. An `image` or `audio` space of a text model is its paired
    tower's (`paired`: already the pair, which must fit)."""
    entry, encoder = CATALOG.get(model), None
    if entry is not None and not entry.missing():
        model_name, model_dim, normalized, modality = entry.name, entry.dim, entry.normalized, entry.modality
    else:  # an unknown name, a folder, or a missing package: loading says what is wrong
        encoder = load_encoder(model)
        model_name, model_dim, normalized, modality = encoder.name, encoder.dim, encoder.normalized, encoder.modality
    if dim is not None and dim != model_dim:
        raise EmbkitError(f"dim: {dim} does not match model {model_name!r} ({model_dim}-d)")
    wanted = TOWER_SPACES.get(name)
    if wanted is not None and modality != wanted:
        other = encoder.paired if encoder is not None and not paired else None
        if other is None:
            what = "images" if wanted == "image" else wanted
            raise EmbkitError(
                f"{wanted}_model: {model!r} embeds {modality}, not {what}, and has no paired {wanted} tower"
            )
        return space_of(other, metric, name=name, paired=True)
    name = name or next((space for space, kind in TOWER_SPACES.items() if kind == modality), DEFAULT_SPACE)
    return Space(name, model_name, model_dim, metric, normalized), encoder
