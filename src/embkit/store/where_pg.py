"""Metadata filters (`where` dicts) compiled for PostgreSQL over a JSONB column.

The grammar, the checks and their error messages are `where.py`'s (the tree walk is
shared; this module only spells the leaves), and so are the semantics, which the tests
hold to the same Python reference as SQLite's:

- A field is reached with `->` one key at a time (`metadata -> %s::text -> %s::text`),
  never `#>`: `->` with a text key gives NULL on arrays and scalars, where `#>` would
  index an array by a digit key. NULL means "missing", as json_type's NULL in SQLite.
- Equality compares jsonb with jsonb (`= %s::jsonb`), which is type-strict: numbers
  compare as numeric (1 = 1.0, -0.0 = 0), never equal to "1" or true; strings compare
  byte for byte. A null operand matches JSON null or a missing field.
- Comparisons check `jsonb_typeof` first; numbers compare as jsonb (numeric, exact),
  strings as text COLLATE "C" (code point order, like SQLite's BINARY).
- $contains / $prefix check `jsonb_typeof` too, then `strpos` / `starts_with` over the
  text COLLATE "C": byte-exact, case-sensitive, no LIKE wildcards, as SQLite's instr().
  An operand holding NUL matches nothing (stored strings cannot hold one).
- Operands travel as JSON text (`json.dumps`), never as float8, so an integer beyond
  2**53 keeps every digit.

Every value and every key of a field's path is a bound `%s` parameter (psycopg); the SQL
text holds no `%` and no braces of its own. One difference in kind from SQLite remains:
JSONB keeps numbers as decimals of their JSON text, so a float beyond 2**53 whose
shortest repr is not its exact value (e.g. float(2**60) = 1.152921504606847e+18)
compares as that repr; below 2**53 the two engines agree exactly.
"""

import json
from typing import Any

from .where import Dialect, compile_filter, is_number

__all__ = ["POSTGRES", "PostgresDialect", "compile_where_pg"]


class PostgresDialect(Dialect):
    true = "TRUE"

    @staticmethod
    def _json(column: str, path: list[str], params: list) -> str:
        """The jsonb at `path`, NULL if a step is missing or not an object."""
        params.extend(path)
        return "(" + column + "".join(" -> %s::text" for _ in path) + ")"

    def equals(self, column: str, path: list[str], value: Any, params: list) -> str:
        if value is None:  # NULL (missing) counts as null
            return f"COALESCE({self._json(column, path, params)} = 'null'::jsonb, TRUE)"
        if isinstance(value, str) and "\x00" in value:
            return "FALSE"  # PostgreSQL text and jsonb cannot hold NUL: nothing stored equals it
        j = self._json(column, path, params)
        params.append(_json_text(value))
        return f"COALESCE({j} = %s::jsonb, FALSE)"

    def any_of(self, column: str, path: list[str], values: list, params: list) -> str:
        texts = list(dict.fromkeys(_json_text(v) for v in values
                                   if not (isinstance(v, str) and "\x00" in v)))
        if not texts:  # only strings holding NUL: nothing stored equals them
            return "FALSE"
        missing = "TRUE" if any(v is None for v in values) else "FALSE"  # JSON null is in texts as 'null'
        j = self._json(column, path, params)
        params.append(texts)
        return f"COALESCE({j} = ANY(%s::text[]::jsonb[]), {missing})"

    def compare(self, column: str, path: list[str], op: str, value: Any, params: list) -> str:
        sql_op = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}[op]
        if is_number(value):
            kind = self._json(column, path, params)
            j = self._json(column, path, params)
            params.append(_json_text(value))
            return f"COALESCE(jsonb_typeof({kind}) = 'number' AND {j} {sql_op} %s::jsonb, FALSE)"
        if "\x00" in value:
            # Stored strings hold no NUL, so against p + "\0" + rest they order as against
            # p, except that p itself sorts below: s < v iff s <= p, s > v iff s > p.
            value = value[:value.index("\x00")]
            sql_op = {">": ">", ">=": ">", "<": "<=", "<=": "<="}[sql_op]
        kind = self._json(column, path, params)
        j = self._json(column, path, params)
        params.append(value)
        return (f"COALESCE(jsonb_typeof({kind}) = 'string' AND ({j} #>> ARRAY[]::text[]) COLLATE \"C\" "
                f"{sql_op} %s::text, FALSE)")


    def contains(self, column: str, path: list[str], value: str, params: list) -> str:
        return self._text_test(column, path, value, params, "strpos({s}, %s::text) > 0")

    def prefix(self, column: str, path: list[str], value: str, params: list) -> str:
        return self._text_test(column, path, value, params, "starts_with({s}, %s::text)")

    def _text_test(self, column: str, path: list[str], value: str, params: list, test: str) -> str:
        if "\x00" in value:
            return "FALSE"  # stored strings hold no NUL, so none holds this operand
        kind = self._json(column, path, params)
        text = f'({self._json(column, path, params)} #>> ARRAY[]::text[]) COLLATE "C"'
        params.append(value)
        return f"COALESCE(jsonb_typeof({kind}) = 'string' AND {test.format(s=text)}, FALSE)"

    _KINDS = {"number": "'number'", "string": "'string'", "boolean": "'boolean'", "null": "'null'"}

    def has(self, column: str, path: list[str], kinds: tuple[str, ...] | None, params: list) -> str:
        j = self._json(column, path, params)
        if kinds is None:
            return f"{j} IS NOT NULL"
        return f"COALESCE(jsonb_typeof({j}) IN ({', '.join(self._KINDS[k] for k in kinds)}), FALSE)"


POSTGRES = PostgresDialect()


def compile_where_pg(where: dict | None, column: str = "metadata") -> tuple[str, list]:
    """(SQL boolean expression, parameters) for PostgreSQL with psycopg's `%s`
    placeholders, over the JSONB `column`. Same validation, errors and limits as
    `compile_where`; `None` or `{}` gives ("TRUE", [])."""
    return compile_filter(where, POSTGRES, column)


def _json_text(value: Any) -> str:
    """An operand as JSON text for `::jsonb` (floats by their shortest repr)."""
    return json.dumps(value, allow_nan=False)
