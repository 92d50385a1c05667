"""Metadata as JSON text for PostgreSQL's jsonb. jsonb keeps a number as `numeric`
and prints it without an exponent, so a float that Python writes with one (1e+16 and
up) would read back as an int, and most as another number (1.5e300 as 15 and 299
zeros). Such a float is written as the digits of its shortest repr with `.0`
(2.813474526426749e16 as 28134745264267490.0): jsonb keeps the scale, json.loads reads
it back as the same float, and it equals the operand a filter binds for that float."""

import json
import math
import uuid
from decimal import Decimal

BIG = 1e16  # from here up repr() uses an exponent


def dumps(value) -> str:
    """`json.dumps(value, ensure_ascii=False, allow_nan=False)`, big floats kept floats."""
    marker = f"embkit-float-{uuid.uuid4().hex}-"
    literals: list[str] = []

    def mark(v):
        if isinstance(v, float) and math.isfinite(v) and abs(v) >= BIG:
            literals.append(format(Decimal(repr(v)), "f") + ".0")
            return f"{marker}{len(literals) - 1}"
        if isinstance(v, dict):
            return {k: mark(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [mark(x) for x in v]
        return v

    text = json.dumps(mark(value), ensure_ascii=False, allow_nan=False)
    for i, literal in enumerate(literals):  # the marker holds a fresh uuid: no user string matches it
        text = text.replace(f'"{marker}{i}"', literal, 1)
    return text
