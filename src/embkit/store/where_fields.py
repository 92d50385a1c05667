"""Warnings for filters that name what no document has: a field that none holds, or a
value type that never occurs for it. Such a filter is valid and runs; its (often empty)
result comes with these warnings instead of silence.

How the store finds out, cheaply: one statement of `EXISTS` tests, one per field and per
(field, type) the filter names, over the same JSON paths the compiler reads (so dotted
paths reach nested objects exactly as the filter does). An `EXISTS` stops at the first
document that has it, so a field that occurs costs a few rows; only an absent one scans
the table, like the filter itself. At most `MAX_CHECKED` fields are checked a request.
"""

from typing import Any

from .where import _COMPARE, TEXT_OPERATORS, Dialect, compile_where, is_number

MAX_CHECKED = 32  # distinct fields checked per filter; the rest go unchecked


def named_fields(where: dict | None) -> dict[str, set[str]]:
    """{dotted field: JSON kinds of its operands}, in the order the fields first appear
    (EmbkitError for an invalid filter). A null operand adds no kind (null also means
    "missing"), so it only asks whether the field exists."""
    compile_where(where)  # the grammar's checks, the same on every dialect
    out: dict[str, set[str]] = {}
    stack = [where] if where else []
    while stack:
        node = stack.pop(0)
        for key, value in node.items():
            if key in ("$and", "$or"):
                stack.extend(value)
            elif len(out) < MAX_CHECKED or key in out:
                out.setdefault(key, set()).update(_kinds(value))
    return out


def _kinds(condition: Any) -> set[str]:
    if not isinstance(condition, dict):
        return _kind(condition)
    kinds: set[str] = set()
    for op, value in condition.items():
        if op in TEXT_OPERATORS:
            kinds.add("string")
        elif op in ("$in", "$nin"):
            for v in value:
                kinds |= _kind(v)
        elif op in _COMPARE or op in ("$eq", "$ne"):
            kinds |= _kind(value)
    return kinds


def _kind(value: Any) -> set[str]:
    if value is None:
        return set()
    if isinstance(value, bool):
        return {"boolean"}
    return {"number"} if is_number(value) else {"string"}


def presence_query(fields: dict[str, set[str]], dialect: Dialect, table: str = "docs",
                   column: str = "metadata") -> tuple[list[tuple[str, str | None]], str, list]:
    """(the checks as (field, kind or None for "any"), one SELECT of EXISTS tests, its
    parameters): the first column says whether the table has any row at all."""
    checks: list[tuple[str, str | None]] = []
    tests, params = [f"EXISTS (SELECT 1 FROM {table})"], []
    for field, kinds in fields.items():
        for kind in (None, *sorted(kinds)):
            checks.append((field, kind))
            test = dialect.has(column, field.split("."), None if kind is None else (kind,), params)
            tests.append(f"EXISTS (SELECT 1 FROM {table} WHERE {test})")
    return checks, "SELECT " + ", ".join(tests), params


def warnings_from(checks: list[tuple[str, str | None]], row: tuple) -> list[str]:
    """The warning lines for the checks whose EXISTS was false; none for an empty
    table (an empty result there needs no explanation)."""
    if not row[0]:
        return []
    found = dict(zip(checks, (bool(x) for x in row[1:])))
    out = []
    for (field, kind), present in found.items():
        if present:
            continue
        if kind is None:
            out.append(f"where.{field}: no document has this field")
        elif found[(field, None)]:  # a missing field is said once, not once per type
            out.append(f"where.{field}: no document has a {kind} value in this field")
    return out
