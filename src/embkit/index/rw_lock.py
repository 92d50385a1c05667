"""A readers-writer lock for one FAISS index: searches run together, a change runs alone.

The server searches one collection from several threads, and a search can catch the
index up (`IndexManager.current`: FAISS `add`, `remove`) while another thread's search
is inside FAISS (which releases the GIL). FAISS indexes are not safe for an add during
a search: a flat index reallocates its vectors, a graph rewires its neighbours. So
searches hold the read side and changes the write side; a waiting change holds new
searches back, so a steady stream of searches cannot starve it. Not reentrant."""

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

    def acquire_read(self) -> None:
        with self._mutex:
            if not (self._writing or self._waiting):  # the common case: no change under way
                self._readers += 1
                return
            while self._writing or self._waiting:
                self._cond.wait()
            self._readers += 1

    def release_read(self) -> None:
        with self._mutex:
            self._readers -= 1
            if not self._readers and self._waiting:
                self._cond.notify_all()

    @contextmanager
    def reading(self):
        """Held while FAISS's memory (the index, a view of its vectors) is read."""
        self.acquire_read()
        try:
            yield
        finally:
            self.release_read()

    @contextmanager
    def writing(self):
        """Held while the index changes (nobody reads it meanwhile)."""
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
