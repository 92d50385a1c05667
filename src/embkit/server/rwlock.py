"""A readers-writer lock: searches run side by side, one write at a time excludes them.

SQLite in WAL mode would let readers run beside a writer, but a collection shares one
connection between threads, and a reader on it would see a writer's open transaction.
Writers are preferred, so a stream of searches cannot starve an add."""

import threading
from contextlib import contextmanager


class ReadWriteLock:
    def __init__(self):
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    @contextmanager
    def reading(self):
        self.acquire_read()
        try:
            yield
        finally:
            self.release_read()

    def acquire_read(self, blocking: bool = True) -> bool:
        """With `blocking=False`, False at once if a writer holds or awaits the lock
        (the event loop must never wait on it)."""
        with self._cond:
            while self._writer or self._waiting_writers:
                if not blocking:
                    return False
                self._cond.wait()
            self._readers += 1
            return True

    def release_read(self) -> None:
        with self._cond:
            self._readers -= 1
            if not self._readers:
                self._cond.notify_all()

    @contextmanager
    def writing(self):
        with self._cond:
            self._waiting_writers += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._waiting_writers -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()
