"""The lock of a served collection, which also says when its handle was closed: a
request takes a collection's handle (hosting.Collections.get), may work a while (embed
its texts), then takes the lock; a DELETE of the collection in between (or another
worker replacing its folder) closed the handle, and the request met a closed database
(sqlite3.ProgrammingError, a 500). Once closed, the lock refuses whoever takes it next
with the error `gone` left (a 404 for a deleted collection)."""

from contextlib import contextmanager

from ..rw_lock import ReadWriteLock


class HostedLock(ReadWriteLock):
    """A ReadWriteLock that, once `gone` was called, raises its error when taken."""

    __slots__ = ("_gone",)

    def __init__(self):
        super().__init__()
        self._gone: tuple[type[Exception], str] | None = None

    @contextmanager
    def reading(self):
        with super().reading():
            self._refuse_if_gone()
            yield

    @contextmanager
    def writing(self):
        with super().writing():
            self._refuse_if_gone()
            yield

    def _refuse_if_gone(self) -> None:
        if self._gone is not None:
            error, message = self._gone
            raise error(message)  # a new one each time: requests in several threads raise it


def gone(lock: ReadWriteLock, error: type[Exception], message: str) -> None:
    """The handle behind `lock` is closed (called under its write lock): whoever takes the
    lock later gets `error(message)`. A plain ReadWriteLock (a test's) is left as it is."""
    if isinstance(lock, HostedLock):
        lock._gone = (error, message)
