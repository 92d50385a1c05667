"""A stored record for the search path: its metadata JSON is decoded when first read.

A search fetches its candidates' rows (k of them, or a hundred for hybrid fusion, three
times k for `documents`), but only the hits it returns need their metadata as a dict;
decoding every candidate's was most of the cost of reading them."""

import json
from json.scanner import make_scanner

# json's C scanner itself: json.loads less its whitespace checks and raw_decode's wrapper (~0.2 us a
# record against 0.5 for raw_decode and 1.5 for json.loads); it raises StopIteration on bad JSON
_SCAN = make_scanner(json.JSONDecoder())


class LazyRecord:
    """Reads like a `Record` (id, text, metadata, rowid); `metadata` decoded once, on use."""

    __slots__ = ("rowid", "id", "text", "_raw", "_metadata")

    def __init__(self, rowid: int, id: str, text: str | None, raw: str):
        self.rowid, self.id, self.text, self._raw, self._metadata = rowid, id, text, raw, None

    @property
    def metadata(self) -> dict:
        """The metadata as a dict (decoded on the first read, then kept)."""
        if self._metadata is None:
            self._metadata = metadata_of(self._raw)
        return self._metadata

    def __repr__(self) -> str:
        return f"LazyRecord(id={self.id!r}, rowid={self.rowid})"


def metadata_of(raw: str) -> dict:
    """The stored metadata JSON as a new dict (the common empty one without the decoder)."""
    return {} if raw == "{}" else _decoded(raw)


def _decoded(raw: str) -> dict:
    """The stored JSON (embkit writes it with json.dumps: nothing around the object);
    text with whitespace around it, written by another tool, goes to json.loads."""
    try:
        value, end = _SCAN(raw, 0)
    except (StopIteration, json.JSONDecodeError):  # text around the object, or not JSON: json.loads says
        return json.loads(raw)
    return value if end == len(raw) else json.loads(raw)
