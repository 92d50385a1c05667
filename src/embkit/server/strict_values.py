"""Request fields that take JSON values as the Python door does: true is not 1, "3" is
not 3, "yes" is not true. Pydantic's lax mode converted them silently, so HTTP accepted
what Python refused. The error is the library's one line: `k: must be an integer from 1
to 10000, got '3'` (errors.py prefixes the field to the message given here)."""

from typing import Annotated, Any

from pydantic import BeforeValidator, SkipValidation
from pydantic_core import PydanticCustomError

from ..errors import EmbkitError
from ..validate import check_k


def _refused(message: str) -> PydanticCustomError:
    return PydanticCustomError("strict_value", "{message}", {"message": message})  # braces in it stay as they are


def is_int(value: Any) -> bool:
    """An int that is not a bool (JSON true is not 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _k(value: Any) -> Any:
    """A k of the wrong type gets validate.check_k's message; its range is checked later,
    as before (the server's max_k limit first)."""
    if value is not None and not is_int(value):
        try:
            check_k(value)
        except EmbkitError as e:
            raise _refused(str(e).removeprefix("k: ")) from None
    return value


def _int(value: Any) -> Any:
    if value is not None and not is_int(value):
        raise _refused(f"must be an integer, got {value!r}")
    return value


def _flag(value: Any) -> Any:
    """search/request.py `_flag`'s message."""
    if value is not None and not isinstance(value, bool):
        raise _refused(f"expected true or false, got {value!r}")
    return value


def _numbers(value: Any) -> Any:
    """A vector: JSON numbers only ("1.5" and true were read as 1.5 and 1.0)."""
    if isinstance(value, list):
        for x in value:
            if type(x) is not float and type(x) is not int:
                raise _refused(f"expected a list of numbers, got {x!r} in it")
    return value


K = Annotated[int, BeforeValidator(_k)]
Int = Annotated[int, BeforeValidator(_int)]
Flag = Annotated[bool, BeforeValidator(_flag)]


# Passed through as sent, for a field the library checks itself (with the message the
# Python door gives): the schema still documents its type.
Checked = SkipValidation
OptionalInt = Annotated[int | None, BeforeValidator(_int)]  # one error naming the field, not one per union member
OptionalFlag = Annotated[bool | None, BeforeValidator(_flag)]
Numbers = Annotated[list[float] | None, BeforeValidator(_numbers)]
