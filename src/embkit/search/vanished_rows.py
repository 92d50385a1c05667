"""A search asked again when another handle's write removed rows between the index's
answer and the read of those rows.

The index answers from the store generation it caught up to; a delete or an upsert
(a remove plus an add under a new row id) committed before the rows are read leaves
the index naming a row that is gone, so a full list of k came back one short. Asked
again, the index catches up first (`current()` sees the generation move) and answers
with k rows that exist. Bounded: a collection rewritten faster than it is searched
still gets an answer, the last one, short as it may be."""

from contextvars import ContextVar
from typing import Callable, TypeVar

RETRIES = 2  # searches after the first; each one catches the index up to the newest write

T = TypeVar("T")

# off where a search must not catch the index up (the server's fast path, on the event
# loop: a store read, a FAISS add, maybe a rebuild): lost rows raise RowsVanished instead
ASK_AGAIN: ContextVar[bool] = ContextVar("ask_again", default=True)


class RowsVanished(Exception):
    """Rows the index named were gone when read and ASK_AGAIN is off: the caller hands
    the request to a path that may ask again (the server's ordinary route)."""


def lost_rows(found: int, asked: int, full: bool) -> bool:
    """True when rows the index returned were gone when read and the index's list was
    full (a short list held every row there was: asking again finds no more)."""
    return full and found < asked


def searched_again(step: Callable[[], tuple[T, bool]], first: tuple[T, bool] | None = None) -> T:
    """The result of `step()` (which returns (result, rows were lost)), run again at
    most RETRIES times while it lost rows; `first` is the first search's (result, lost)
    when the caller already made it (then only the RETRIES searches run here). Raises
    RowsVanished instead of asking again where ASK_AGAIN is off."""
    result, lost = step() if first is None else first
    if lost and not ASK_AGAIN.get():
        raise RowsVanished("rows gone since the index answered")
    for _ in range(RETRIES):
        if not lost:
            break
        result, lost = step()
    return result  # the last answer, short as it may be
