"""Metadata filters (`where` dicts) compiled to SQL over the JSON metadata column.

Grammar: {field: value} is equality; {field: {"$ne"|"$gt"|"$gte"|"$lt"|"$lte": value}},
{field: {"$in"|"$nin": [values]}}; {"$and": [...]}, {"$or": [...]}; several keys in one
dict are ANDed. `a.b` reaches into nested objects. Types are strict: 1 matches 1 and
1.0, never "1" or true. Comparisons match only fields of the operand's type (numbers
with numbers, strings with strings); $ne and $nin also match documents lacking the
field. Every value is a bound parameter, never spliced into the SQL text.
"""

import json
import re
from typing import Any

from ..errors import EmbkitError

_FIELD = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*$")
_COMPARE = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
OPERATORS = ("$eq", "$ne", "$in", "$nin", *_COMPARE)
MAX_DEPTH = 32
MAX_IN = 10_000  # values in one $in/$nin list
MAX_BRANCHES = 1_000  # conditions in one $and/$or list
MAX_PARAMS = 30_000  # SQLite's bound-parameter limit is 32,766


def compile_where(where: dict | None, column: str = "metadata") -> tuple[str, list]:
    """(SQL boolean expression, parameters) for SQLite's JSON1 functions."""
    if where is None or where == {}:
        return "1", []
    params: list = []
    sql = _node(where, column, params, "where", 0)
    if len(params) > MAX_PARAMS:
        raise EmbkitError(f"where: filter too large ({len(params)} parameters; the limit is {MAX_PARAMS})")
    return sql, params


def parse_where(text: str) -> dict:
    """A `where` given as JSON text (the CLI's --where), validated."""
    try:
        where = json.loads(text)
    except json.JSONDecodeError as e:
        raise EmbkitError(f"where: not valid JSON ({e.msg} at column {e.colno})") from None
    compile_where(where)
    return where


def _node(where: Any, column: str, params: list, at: str, depth: int) -> str:
    if depth > MAX_DEPTH:
        raise EmbkitError(f"{at}: nested deeper than {MAX_DEPTH} levels")
    if not isinstance(where, dict) or not where:
        raise EmbkitError(f"{at}: expected a non-empty object, got {json.dumps(where)[:60]}")
    parts = []
    for key, value in where.items():
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise EmbkitError(f"{at}.{key}: expected a non-empty list of conditions")
            if len(value) > MAX_BRANCHES:
                raise EmbkitError(f"{at}.{key}: more than {MAX_BRANCHES} conditions")
            subs = [_node(v, column, params, f"{at}.{key}[{i}]", depth + 1) for i, v in enumerate(value)]
            parts.append(_join(subs, "AND" if key == "$and" else "OR"))
        elif key.startswith("$"):
            raise EmbkitError(f"{at}: unknown operator {key!r} (allowed here: $and, $or, or a field name)")
        else:
            parts.append(_field(key, value, column, params, f"{at}.{key}"))
    return _join(parts, "AND")


def _join(parts: list[str], op: str) -> str:
    """Parts joined as a balanced tree, so depth grows with log(n), not n."""
    if len(parts) == 1:
        return parts[0]
    mid = len(parts) // 2
    return f"({_join(parts[:mid], op)} {op} {_join(parts[mid:], op)})"


def _field(field: str, condition: Any, column: str, params: list, at: str) -> str:
    if not _FIELD.fullmatch(field):
        raise EmbkitError(f"{at}: invalid field name {field!r} (letters, digits, _ and -, dots for nesting)")
    path = "$." + ".".join(f'"{p}"' for p in field.split("."))
    if not isinstance(condition, dict):
        return _equals(path, condition, column, params, at)
    if not condition:
        raise EmbkitError(f"{at}: empty condition object")
    parts = []
    for op, value in condition.items():
        where_at = f"{at}.{op}"
        if op == "$eq":
            parts.append(_equals(path, value, column, params, where_at))
        elif op == "$ne":
            parts.append(f"NOT {_equals(path, value, column, params, where_at)}")
        elif op in ("$in", "$nin"):
            if not isinstance(value, list) or not value or len(value) > MAX_IN:
                raise EmbkitError(f"{where_at}: expected a list of 1 to {MAX_IN} values")
            anyof = _any_of(path, value, column, params, where_at)
            parts.append(anyof if op == "$in" else f"NOT {anyof}")
        elif op in _COMPARE:
            parts.append(_compare(path, _COMPARE[op], value, column, params, where_at))
        else:
            raise EmbkitError(f"{where_at}: unknown operator {op!r} (allowed: {', '.join(OPERATORS)})")
    return _join(parts, "AND")


def _any_of(path: str, values: list, column: str, params: list, at: str) -> str:
    """Equality with any of `values`: one SQL IN list per type (numbers, strings),
    plus a test for each boolean or null given."""
    numbers, strings, others = [], [], []
    for i, v in enumerate(values):
        if isinstance(v, str):
            strings.append(v)
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and _finite(v, f"{at}[{i}]"):
            numbers.append(v)
        else:
            others.append(_equals(path, v, column, params, f"{at}[{i}]"))
    for kinds, group in (("('integer', 'real')", numbers), ("('text')", strings)):
        if group:
            params.extend([path, path, *group])
            marks = ", ".join("?" * len(group))
            others.append(f"COALESCE((json_type({column}, ?) IN {kinds} AND json_extract({column}, ?) IN ({marks})), 0)")
    return _join(others, "OR")


def _equals(path: str, value: Any, column: str, params: list, at: str) -> str:
    kind = f"json_type({column}, ?)"
    if value is None:  # json_type is NULL for a missing field: that counts as null
        params.append(path)
        return f"COALESCE({kind} = 'null', 1)"
    if isinstance(value, bool):
        params.append(path)
        return f"COALESCE({kind} = '{'true' if value else 'false'}', 0)"
    if isinstance(value, (int, float)) and _finite(value, at):
        params.extend([path, path, value])
        return f"COALESCE(({kind} IN ('integer', 'real') AND json_extract({column}, ?) = ?), 0)"
    if isinstance(value, str):
        params.extend([path, path, value])
        return f"COALESCE(({kind} = 'text' AND json_extract({column}, ?) = ?), 0)"
    raise EmbkitError(f"{at}: value must be a string, number, boolean or null, got {type(value).__name__}")


def _compare(path: str, sql_op: str, value: Any, column: str, params: list, at: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise EmbkitError(f"{at}: comparison needs a number or a string, got {json.dumps(value)[:40]}")
    types = "('text')" if isinstance(value, str) else "('integer', 'real')"
    if not isinstance(value, str):
        _finite(value, at)
    params.extend([path, path, value])
    return f"COALESCE((json_type({column}, ?) IN {types} AND json_extract({column}, ?) {sql_op} ?), 0)"


def _finite(value: float, at: str) -> bool:
    if value != value or value in (float("inf"), float("-inf")):
        raise EmbkitError(f"{at}: value must be a finite number")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise EmbkitError(f"{at}: integer outside the 64-bit range")
    return True
