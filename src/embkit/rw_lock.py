"""A readers-writer lock: reads run together, a change runs alone, and a waiting change
holds new reads back (a steady stream of searches cannot starve it). Not reentrant.

Two users: a FAISS index (the server searches one collection from several threads, and
a search can catch the index up, FAISS `add`/`remove`, while another thread's search is
inside FAISS, which releases the GIL; FAISS is not safe for an add during a search), and
the server's lock per collection (SQLite in WAL mode would let readers run beside a
writer, but a collection shares one connection between threads, and a reader on it
would see a writer's open transaction)."""

import threading
from contextlib import contextmanager


class ReadWriteLock:
    """Many readers or one writer; a waiting writer goes before readers that come later."""

    __slots__ = ("_mutex", "_cond", "_readers", "_writing", "_waiting")

    def __init__(self):
        self._mutex = threading.Lock()  # the condition's own lock, taken bare on a search's fast path
        self._cond = threading.Condition(self._mutex)
        self._readers = 0
        self._writing = False
        self._waiting = 0  # writers waiting

    def acquire_read(self, blocking: bool = True) -> bool:
        """With `blocking=False`, False at once if a writer holds or awaits the lock (the
        server's event loop must never wait on it)."""
        with self._mutex:
            if not (self._writing or self._waiting):  # the common case: no change under way
                self._readers += 1
                return True
            if not blocking:
                return False
            while self._writing or self._waiting:
                self._cond.wait()
            self._readers += 1
            return True

    def release_read(self) -> None:
        with self._mutex:
            self._readers -= 1
            if not self._readers and self._waiting:
                self._cond.notify_all()

    @contextmanager
    def reading(self):
        """Held while reading (for an index: its memory, a view of its vectors)."""
        self.acquire_read()
        try:
            yield
        finally:
            self.release_read()

    @contextmanager
    def writing(self):
        """Held while changing (nobody reads meanwhile)."""
        with self._cond:
            self._waiting += 1
            try:
                while self._writing or self._readers:
                    self._cond.wait()
            except BaseException:  # the wait interrupted: readers held back for this writer may go
                self._waiting -= 1
                self._cond.notify_all()
                raise
            self._waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()
