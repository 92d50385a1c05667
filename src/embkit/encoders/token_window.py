"""Cutting a plain encoding to the model's window, exactly as the tokenizers library's
own truncation would (right side, no stride) before its post-processor: the text's
first pieces are kept and the template's special tokens around them stay. The encoder
shares one plain tokenizer with the chunker and token counts (tokenizer_files.shared_tokenizer)
instead of holding a truncating copy of its own."""

from typing import Sequence


def window_ids(encoding, max_tokens: int) -> list[int]:
    """The ids of `encoding` (made with special tokens, untruncated) as a tokenizer
    truncating at `max_tokens` would have made them: the leading and trailing special
    tokens the post-processor added (no sequence id) kept, the text's pieces cut."""
    ids = encoding.ids
    if len(ids) <= max_tokens:
        return ids
    sequence = encoding.sequence_ids
    head = 0
    while head < len(ids) and sequence[head] is None:
        head += 1
    tail = 0
    while tail < len(ids) - head and sequence[len(ids) - 1 - tail] is None:
        tail += 1
    keep = max_tokens - head - tail
    if keep < 0:  # as tokenizers refuses a window smaller than its added tokens
        raise ValueError(f"max_tokens: {max_tokens} is fewer than the {head + tail} special tokens added")
    return ids[:head + keep] + ids[len(ids) - tail:]


def windowed(tokenizer, texts: Sequence[str], max_tokens: int) -> list[list[int]]:
    """Ids of each text (special tokens included) cut at `max_tokens`."""
    return [window_ids(e, max_tokens) for e in tokenizer.encode_batch(list(texts))]
