"""Searches that must not wait for the index: the server's fast path answers on the
event loop, where waiting for another thread's catch-up (IndexManager's lock: a store
read, a FAISS add, maybe a rebuild) would stall every request. Where NO_WAIT is on,
`IndexManager.current` gives the index only if it is ready this instant (its lock free,
nothing to load, build or catch up) and raises IndexBusy otherwise, and a FAISS search
raises it where a change holds or awaits the index's own lock (faiss_base._acquire_read:
a catch-up begun after that check); the caller hands the request to a path that may wait
(the server's ordinary route, in the thread pool)."""

from contextvars import ContextVar

NO_WAIT: ContextVar[bool] = ContextVar("index_no_wait", default=False)


class IndexBusy(Exception):
    """The index is not ready this instant (in use by a catch-up or build, or behind the
    store) and NO_WAIT is on."""
