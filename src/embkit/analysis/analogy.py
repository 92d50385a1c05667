"""Word arithmetic on static word vectors: analogies (a − b + c) and nearest neighbours."""

import numpy as np

from ..encoders.base import Encoder
from ..errors import EmbkitError


def word_encoder(encoder: Encoder | str):
    """A static word-vector encoder, from an encoder or a catalog name / file path."""
    from ..encoders import load_encoder
    from ..encoders.static import StaticEncoder

    if isinstance(encoder, str):
        encoder = load_encoder(encoder)
    if not isinstance(encoder, StaticEncoder):
        raise EmbkitError(f"model: {encoder.name!r} has no word vectors; use a word-vector model such as "
                          "glove-50d or a .txt/.vec/.bin word-vector file")
    return encoder


def analogy(encoder: Encoder | str, a: str, b: str, c: str, k: int = 10) -> list[tuple[str, float]]:
    """The `k` words closest to a − b + c (3CosAdd: unit vectors added, ranked by cosine),
    leaving out a, b and c themselves: analogy(glove, "king", "man", "woman") ranks
    "queen" first. Returns (word, cosine) pairs, best first."""
    words = word_encoder(encoder)
    va, vb, vc = (_unit(words.word_vector(w)) for w in (a, b, c))
    return words.most_similar(va - vb + vc, k, exclude=(a, b, c))


def neighbors(encoder: Encoder | str, word: str, k: int = 10) -> list[tuple[str, float]]:
    """The `k` words whose vectors are closest (cosine) to `word`'s, the word itself left out."""
    words = word_encoder(encoder)
    return words.most_similar(words.word_vector(word), k, exclude=(word,))


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)
