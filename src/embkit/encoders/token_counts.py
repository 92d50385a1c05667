"""Counting the tokens an encoder reads, and which texts it cuts short: for usage
figures and truncation notices (the OpenAI-compatible API). The count is the model's
own tokenizer's, special tokens included, as the model receives them."""

import re
from typing import NamedTuple, Sequence

from ..errors import EmbkitError
from .base import Encoder
from .static import StaticEncoder
from .tokenizer_files import encoder_tokenizer

_WORDS = re.compile(r"\S+")


class Counted(NamedTuple):
    """Tokens the model read per text (after its truncation), and the indexes of the
    texts it truncated."""

    read: list[int]
    truncated: list[int]


class TokenCounter:
    """Counts for one encoder, with the process's one tokenizer of its file (no copy)."""

    def __init__(self, encoder: Encoder):
        self.window: int | None = None if isinstance(encoder, StaticEncoder) else int(encoder.max_tokens)
        self._tokenizer = None
        if self.window is not None:
            try:
                self._tokenizer = encoder_tokenizer(encoder)  # untruncated: counts past the window
            except (EmbkitError, OSError, ImportError):
                self._tokenizer = None  # no tokenizer.json to be found: words stand in, nothing is flagged

    def full(self, texts: Sequence[str]) -> list[int]:
        """Tokens in each text before any truncation (words, for a model without a tokenizer)."""
        if self._tokenizer is None:
            return [len(_WORDS.findall(text)) for text in texts]
        return [len(e.ids) for e in self._tokenizer.encode_batch(list(texts))]

    def count(self, texts: Sequence[str]) -> Counted:
        """What the model reads of each text, and which texts it cuts at its window."""
        full = self.full(texts)
        if self._tokenizer is None or self.window is None:
            return Counted(full, [])
        return Counted([min(n, self.window) for n in full], [i for i, n in enumerate(full) if n > self.window])
