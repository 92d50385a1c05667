"""Counting tokens for budgets (RAG context): the default model's WordPiece tokenizer,
untruncated, which counts English within a few percent of common LLM tokenizers."""

import re

from ..encoders.tokenizer_files import encoder_tokenizer
from ..errors import EmbkitError


def count_tokens(text: str) -> int:
    """Tokens in `text` (without [CLS]/[SEP]); ~4/3 per word if no tokenizer is installed."""
    try:
        tokenizer = encoder_tokenizer()
    except (EmbkitError, ImportError, OSError):
        return max(1, round(len(re.findall(r"\S+", text)) * 4 / 3))
    return len(tokenizer.encode(text, add_special_tokens=False).ids)
