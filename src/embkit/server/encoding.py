"""Response bodies as JSON bytes, encoded in the route's own thread. A stored record
that cannot be served as it is (metadata nested past pydantic's depth, or text from
an older collection holding a lone surrogate) must not make every answer that touches
it a 500: such a record is served with its metadata replaced by a marker that says why,
and a warning is logged. Anything else that still fails is a 500 for that request only."""

import logging

from pydantic import TypeAdapter

from .. import validate
from ..errors import EmbkitError

log = logging.getLogger("embkit.server")

UNSERVABLE = "embkit_unservable"  # the one key of a marker that stands in for unservable metadata

# FastAPI encodes a returned dict with pydantic's dump_json; doing the same here gives the
# same bytes without one more trip to the thread pool (see routes_search).
_DICT = TypeAdapter(dict)


def encode(content: dict) -> bytes:
    """`content` as JSON; records under a top-level list (hits, documents, passages)
    whose metadata or text cannot be encoded are served with a marker instead."""
    return _dump_or_repair(content, _repaired)


def encode_record(record: dict) -> bytes:
    """One hit or document as JSON, with a marker for what cannot be encoded (see encode)."""
    return _dump_or_repair(record, _record)


def _dump_or_repair(content: dict, repair) -> bytes:
    try:
        return _dump(content)
    except (ValueError, RecursionError, UnicodeError) as e:  # pydantic's serialization errors are ValueErrors
        log.warning("a stored record could not be serialized as it is (%s); serving it with a marker", e)
        return _dump(repair(content))


def _dump(content: dict) -> bytes:
    return _DICT.dump_json(_DICT.validate_python(content, from_attributes=True), by_alias=True)


def _repaired(content: dict) -> dict:
    out = {}
    for key, value in content.items():
        if isinstance(value, list):
            value = [_record(item) if isinstance(item, dict) else item for item in value]
        elif isinstance(value, str):
            value = validate.printable(value)
        out[key] = value
    return out


def _record(item: dict) -> dict:
    """A hit, document or passage that can be encoded: its strings made valid Unicode,
    its metadata checked against the limits a write must meet (or replaced)."""
    fixed = {k: validate.printable(v) if isinstance(v, str) else v for k, v in item.items()}
    if isinstance(item.get("metadata"), dict):
        fixed["metadata"] = servable_metadata(item["metadata"])
    return fixed


def servable_metadata(metadata: dict) -> dict:
    """`metadata` itself when it meets today's write limits, else a marker naming why."""
    try:
        validate.check_tree(metadata, "metadata", refuse_nul=False)  # served as JSON escapes
    except EmbkitError as e:
        return {UNSERVABLE: str(e)}
    return metadata
