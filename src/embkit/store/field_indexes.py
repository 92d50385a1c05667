"""Indexes on metadata fields, so a selective filter reads its rows instead of every row.

A compiled `where` (where.py) tests each row's JSON with functions SQLite cannot look
up in an index. For the conditions every matching row must meet on a field, an equality
or `$in` of numbers or strings, or a numeric comparison, this module adds a plain test
of `json_extract(metadata, '$."field"')` ANDed in front of the filter: the same rows pass
(it is implied by the filter; the full filter still decides), but SQLite can answer it
from an expression index on that field. The index is made the first time a field is
filtered in a collection of at least INDEX_FROM rows; a read-only store scans.
"""

import sqlite3
from typing import Any

from .where import _COMPARE, is_number

INDEX_FROM = 5_000  # rows: below this a scan is as fast as a lookup
PREFIX = "docs_field_"


def _expression(field: str) -> str:
    """The indexed expression; field names are checked by where.py (letters, digits,
    `_`, `-` and dots: nothing to escape), and the literal path must match the index's."""
    return "json_extract(metadata, '$." + ".".join(f'"{p}"' for p in field.split(".")) + "')"


def narrowing(where: dict | None) -> tuple[str, list, list[str]]:
    """(SQL ending in " AND " or "", its parameters, the fields it tests) implied by `where`."""
    tests: list[str] = []
    params: list = []
    fields: list[str] = []
    for field, condition in _conjuncts(where):
        test = _test(_expression(field), condition, params)
        if test:
            tests.append(test)
            fields.append(field)
    return ("".join(t + " AND " for t in tests), params, fields)


def _conjuncts(where: Any):
    """(field, condition) pairs every matching row meets: top-level keys and `$and` items."""
    if not isinstance(where, dict):
        return
    for key, value in where.items():
        if key == "$and" and isinstance(value, list):
            for item in value:
                yield from _conjuncts(item)
        elif not key.startswith("$"):
            yield key, value


def _test(expression: str, condition: Any, params: list) -> str | None:
    """A test on the field's value that `condition` implies, or None."""
    if _plain(condition):
        params.append(condition)
        return f"{expression} = ?"
    if not isinstance(condition, dict) or len(condition) != 1:
        return None
    (op, value), = condition.items()
    if op == "$eq" and _plain(value):
        params.append(value)
        return f"{expression} = ?"
    if op == "$in" and isinstance(value, list) and value and all(_plain(v) for v in value):
        params.extend(value)
        return f"{expression} IN ({', '.join('?' * len(value))})"
    if op in _COMPARE and is_number(value):  # a text value compares above any number: the filter drops it
        params.append(value)
        return f"{expression} {_COMPARE[op]} ?"
    return None


def _plain(value: Any) -> bool:
    """A number or a string: json_extract gives exactly these back, comparable with `=`."""
    return isinstance(value, str) or is_number(value)


def indexed(conn: sqlite3.Connection) -> set[str]:
    """Names of the field indexes the database has."""
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE ?",
                                       (PREFIX + "%",))}


def index_name(field: str) -> str:
    return PREFIX + field.replace(".", "__").replace("-", "_2d")


def create(c: sqlite3.Connection, field: str) -> None:
    """The expression index of `field`, within the caller's transaction."""
    c.execute(f'CREATE INDEX IF NOT EXISTS "{index_name(field)}" ON docs ({_expression(field)})')
    c.execute(f'ANALYZE "{index_name(field)}"')  # statistics, so a field most rows share is not used to narrow
