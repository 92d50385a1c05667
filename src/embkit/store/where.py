"""Metadata filters (`where` dicts) compiled to SQL over the JSON metadata column.

Grammar: {field: value} is equality; {field: {"$ne"|"$gt"|"$gte"|"$lt"|"$lte": value}},
{field: {"$in"|"$nin": [values]}}; {field: {"$contains"|"$prefix": "text"}};
{"$and": [...]}, {"$or": [...]}; several keys in one dict are ANDed. `a.b` reaches
into nested objects. Types are strict: 1 matches 1 and 1.0, never "1" or true.
Comparisons match only fields of the operand's type (numbers with numbers, strings with
strings); $ne and $nin also match documents lacking the field. $contains (substring)
and $prefix (starts with) match string values only, case and accents exact (code
points, as Python's `in` and `str.startswith`); "" matches every string. Every value
is a bound parameter, never spliced into the SQL text.

The tree walk and every check live here, shared by the SQL dialects: a `Dialect` only
spells the leaves (equality, any-of, comparison) for its engine. `compile_where` is
SQLite's (JSON1 functions); `where_pg.compile_where_pg` is PostgreSQL's (JSONB).
"""

import json
import re
from typing import Any

from ..errors import EmbkitError

_FIELD = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*$")
_COMPARE = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
TEXT_OPERATORS = ("$contains", "$prefix")  # on strings only
OPERATORS = ("$eq", "$ne", "$in", "$nin", *_COMPARE, *TEXT_OPERATORS)
MAX_DEPTH = 32
MAX_IN = 10_000  # values in one $in/$nin list
MAX_BRANCHES = 1_000  # conditions in one $and/$or list
MAX_PARAMS = 30_000  # SQLite's bound-parameter limit is 32,766


def compile_where(where: dict | None, column: str = "metadata") -> tuple[str, list]:
    """(SQL boolean expression, parameters) for SQLite's JSON1 functions."""
    return compile_filter(where, SQLITE, column)


def compile_filter(where: dict | None, dialect: "Dialect", column: str = "metadata") -> tuple[str, list]:
    """`where` validated and compiled by `dialect`: (SQL boolean expression, parameters).
    Raises EmbkitError naming the offending path (`where.a.$in[1]: ...`)."""
    if where is None or where == {}:
        return dialect.true, []
    params: list = []
    sql = _node(where, column, params, "where", 0, dialect)
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


def _node(where: Any, column: str, params: list, at: str, depth: int, dialect: "Dialect") -> str:
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
            subs = [_node(v, column, params, f"{at}.{key}[{i}]", depth + 1, dialect) for i, v in enumerate(value)]
            parts.append(_join(subs, "AND" if key == "$and" else "OR"))
        elif key.startswith("$"):
            raise EmbkitError(f"{at}: unknown operator {key!r} (allowed here: $and, $or, or a field name)")
        else:
            parts.append(_field(key, value, column, params, f"{at}.{key}", dialect))
    return _join(parts, "AND")


def _join(parts: list[str], op: str) -> str:
    """Parts joined as a balanced tree, so depth grows with log(n), not n."""
    if len(parts) == 1:
        return parts[0]
    mid = len(parts) // 2
    return f"({_join(parts[:mid], op)} {op} {_join(parts[mid:], op)})"


def _field(field: str, condition: Any, column: str, params: list, at: str, dialect: "Dialect") -> str:
    if not _FIELD.fullmatch(field):
        raise EmbkitError(f"{at}: invalid field name {field!r} (letters, digits, _ and -, dots for nesting)")
    path = field.split(".")
    if not isinstance(condition, dict):
        return dialect.equals(column, path, _scalar(condition, at), params)
    if not condition:
        raise EmbkitError(f"{at}: empty condition object")
    parts = []
    for op, value in condition.items():
        where_at = f"{at}.{op}"
        if op == "$eq":
            parts.append(dialect.equals(column, path, _scalar(value, where_at), params))
        elif op == "$ne":
            parts.append(f"NOT {dialect.equals(column, path, _scalar(value, where_at), params)}")
        elif op in ("$in", "$nin"):
            if not isinstance(value, list) or not value or len(value) > MAX_IN:
                raise EmbkitError(f"{where_at}: expected a list of 1 to {MAX_IN} values")
            values = [_scalar(v, f"{where_at}[{i}]") for i, v in enumerate(value)]
            anyof = dialect.any_of(column, path, values, params)
            parts.append(anyof if op == "$in" else f"NOT {anyof}")
        elif op in _COMPARE:
            parts.append(dialect.compare(column, path, op, _comparable(value, where_at), params))
        elif op in TEXT_OPERATORS:
            text = _string(value, where_at)
            parts.append((dialect.contains if op == "$contains" else dialect.prefix)(column, path, text, params))
        else:
            raise EmbkitError(f"{where_at}: unknown operator {op!r} (allowed: {', '.join(OPERATORS)})")
    return _join(parts, "AND")


# ---- values --------------------------------------------------------------------------

def _scalar(value: Any, at: str) -> Any:
    """An operand of equality, $in or $nin: null, a boolean, a finite number or a string."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)) and _finite(value, at):
        return value
    raise EmbkitError(f"{at}: value must be a string, number, boolean or null, got {type(value).__name__}")


def _comparable(value: Any, at: str) -> Any:
    """An operand of $gt/$gte/$lt/$lte: a finite number or a string."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise EmbkitError(f"{at}: comparison needs a number or a string, got {json.dumps(value)[:40]}")
    if not isinstance(value, str):
        _finite(value, at)
    return value


def _string(value: Any, at: str) -> str:
    """An operand of $contains/$prefix: a string (any, "" included)."""
    if not isinstance(value, str):
        raise EmbkitError(f"{at}: expected a string, got {json.dumps(value)[:40]}")
    return value


def is_number(value: Any) -> bool:
    """A (validated) operand that is a number: booleans are not numbers."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(value: float, at: str) -> bool:
    if value != value or value in (float("inf"), float("-inf")):
        raise EmbkitError(f"{at}: value must be a finite number")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise EmbkitError(f"{at}: integer outside the 64-bit range")
    return True


# ---- dialects ------------------------------------------------------------------------

class Dialect:
    """How one SQL engine spells the leaves of a filter. Each method appends its bound
    parameters to `params` in the order of their placeholders and returns an expression
    that is never NULL (so NOT and the joins stay two-valued). `path` is the field split
    at its dots; operands are already validated (`_scalar`, `_comparable`)."""

    true = "1"  # the expression for an empty filter

    def equals(self, column: str, path: list[str], value: Any, params: list) -> str:
        """Type-strict equality; a None operand also matches a missing field."""
        raise NotImplementedError

    def any_of(self, column: str, path: list[str], values: list, params: list) -> str:
        """Equality with any of `values` (non-empty)."""
        raise NotImplementedError

    def compare(self, column: str, path: list[str], op: str, value: Any, params: list) -> str:
        """`op` in $gt/$gte/$lt/$lte against a number or a string: only values of the
        operand's type take part."""
        raise NotImplementedError

    def contains(self, column: str, path: list[str], value: str, params: list) -> str:
        """A string value holding `value` as a substring (code points, case-sensitive)."""
        raise NotImplementedError

    def prefix(self, column: str, path: list[str], value: str, params: list) -> str:
        """A string value starting with `value` (code points, case-sensitive)."""
        raise NotImplementedError

    def has(self, column: str, path: list[str], kinds: tuple[str, ...] | None, params: list) -> str:
        """The field is present (any JSON type, null included; `kinds` None) or holds a
        value of one of `kinds` (JSON kinds: number, string, boolean, null)."""
        raise NotImplementedError


class SQLiteDialect(Dialect):
    """SQLite's JSON1: json_type() is NULL for a missing field (or a step through a
    non-object), json_extract() gives numbers as INTEGER or REAL, compared exactly."""

    true = "1"

    @staticmethod
    def _path(path: list[str]) -> str:
        return "$." + ".".join(f'"{p}"' for p in path)

    def equals(self, column: str, path: list[str], value: Any, params: list) -> str:
        path = self._path(path)
        kind = f"json_type({column}, ?)"
        if value is None:  # json_type is NULL for a missing field: that counts as null
            params.append(path)
            return f"COALESCE({kind} = 'null', 1)"
        if isinstance(value, bool):
            params.append(path)
            return f"COALESCE({kind} = '{'true' if value else 'false'}', 0)"
        if is_number(value):
            params.extend([path, path, value])
            return f"COALESCE(({kind} IN ('integer', 'real') AND json_extract({column}, ?) = ?), 0)"
        params.extend([path, path, value])
        return f"COALESCE(({kind} = 'text' AND json_extract({column}, ?) = ?), 0)"

    def any_of(self, column: str, path: list[str], values: list, params: list) -> str:
        """One SQL IN list per type (numbers, strings), plus a test for each boolean or
        null given."""
        numbers, strings, others = [], [], []
        for v in values:
            if isinstance(v, str):
                strings.append(v)
            elif is_number(v):
                numbers.append(v)
            else:
                others.append(self.equals(column, path, v, params))
        where = self._path(path)
        for kinds, group in (("('integer', 'real')", numbers), ("('text')", strings)):
            if group:
                params.extend([where, where, *group])
                marks = ", ".join("?" * len(group))
                others.append(f"COALESCE((json_type({column}, ?) IN {kinds} AND json_extract({column}, ?) "
                              f"IN ({marks})), 0)")
        return _join(others, "OR")

    def compare(self, column: str, path: list[str], op: str, value: Any, params: list) -> str:
        where = self._path(path)
        types = "('text')" if isinstance(value, str) else "('integer', 'real')"
        params.extend([where, where, value])
        return f"COALESCE((json_type({column}, ?) IN {types} AND json_extract({column}, ?) {_COMPARE[op]} ?), 0)"

    # instr() compares bytes, so it is case-sensitive and free of LIKE's wildcards and
    # escapes; instr(s, p) = 1 exactly when s starts with p (and instr(s, '') = 1).
    def contains(self, column: str, path: list[str], value: str, params: list) -> str:
        return self._instr(column, path, value, params, "> 0")

    def prefix(self, column: str, path: list[str], value: str, params: list) -> str:
        return self._instr(column, path, value, params, "= 1")

    def _instr(self, column: str, path: list[str], value: str, params: list, test: str) -> str:
        where = self._path(path)
        params.extend([where, where, value])
        return f"COALESCE((json_type({column}, ?) = 'text' AND instr(json_extract({column}, ?), ?) {test}), 0)"

    _KINDS = {"number": "'integer', 'real'", "string": "'text'", "boolean": "'true', 'false'", "null": "'null'"}

    def has(self, column: str, path: list[str], kinds: tuple[str, ...] | None, params: list) -> str:
        params.append(self._path(path))
        if kinds is None:
            return f"json_type({column}, ?) IS NOT NULL"
        return f"json_type({column}, ?) IN ({', '.join(self._KINDS[k] for k in kinds)})"


SQLITE = SQLiteDialect()
