"""The server's limits: each configurable (`embkit serve --max-...`), each named in the
error a request that breaks it gets, and checked before anything is written."""

from dataclasses import dataclass

from ..validate import MAX_DOCUMENT_BYTES
from .api_errors import LimitExceeded


@dataclass(frozen=True)
class Limits:
    max_batch: int = 1000  # documents (or texts) per request
    max_text_chars: int = 100_000  # characters per text or query
    max_k: int = 1000  # results per search
    max_body_bytes: int = 16 * 1024 * 1024  # request body
    max_document_bytes: int = MAX_DOCUMENT_BYTES  # one stored document's text (checked by the collection)

    def batch(self, n: int, field: str) -> None:
        if n > self.max_batch:
            raise LimitExceeded("max_batch", f"{field}: {n} items exceeds the maximum batch of {self.max_batch}")

    def texts(self, texts, field: str) -> None:
        for i, text in enumerate(texts):
            if isinstance(text, str) and len(text) > self.max_text_chars:
                raise LimitExceeded("max_text_chars", f"{field}[{i}]: {len(text)} characters exceeds the maximum "
                                    f"of {self.max_text_chars}")

    def text(self, text, field: str) -> None:
        if isinstance(text, str) and len(text) > self.max_text_chars:
            raise LimitExceeded("max_text_chars", f"{field}: {len(text)} characters exceeds the maximum of "
                                f"{self.max_text_chars}")

    def k(self, k: int, field: str = "k") -> None:
        if k > self.max_k:
            raise LimitExceeded("max_k", f"{field}: {k} exceeds the maximum of {self.max_k}")
