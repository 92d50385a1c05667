"""The result type of every search."""

from typing import Any, NamedTuple


class Hit(NamedTuple):
    """One result. Later stages add fields with defaults after these; never reorder."""

    id: str
    score: float
    text: str | None
    metadata: dict[str, Any]

    def to_dict(self) -> dict:
        return self._asdict()
