"""rw_lock.py: a writer whose wait ends in an exception lets the readers it held
back go (they waited on it and nothing else would wake them)."""

import threading

from embkit.rw_lock import ReadWriteLock


class Interrupted(Exception):
    pass


def test_an_interrupted_writer_lets_waiting_readers_go():
    lock = ReadWriteLock()
    writer_waits, reader_waits, interrupt = threading.Event(), threading.Event(), threading.Event()
    writer_error, reader_in = [], threading.Event()

    class Hooked(threading.Condition):  # the real condition, with a hook where each thread waits
        def wait(self, timeout=None):
            if threading.current_thread().name == "writer":
                if interrupt.is_set():
                    raise Interrupted
                writer_waits.set()
            else:
                reader_waits.set()
            return super().wait(timeout)

    lock._cond = Hooked(lock._mutex)

    def write():
        try:
            with lock.writing():
                pass
        except Interrupted as e:
            writer_error.append(e)

    def read():
        with lock.reading():
            reader_in.set()

    lock.acquire_read()  # a search inside the index: the writer waits for it
    writer = threading.Thread(target=write, name="writer", daemon=True)
    writer.start()
    assert writer_waits.wait(30)
    reader = threading.Thread(target=read, name="reader", daemon=True)
    reader.start()  # held back behind the waiting writer
    assert reader_waits.wait(30)
    interrupt.set()
    with lock._cond:
        lock._cond.notify()  # the first waiter only: the writer, whose wait now raises
    writer.join(30)
    assert len(writer_error) == 1
    got_in = reader_in.wait(10)  # a bound for a hang (the bug), not a timing
    if not got_in:
        with lock._cond:
            lock._cond.notify_all()  # let the thread end
    assert got_in and lock._waiting == 0
    lock.release_read()
    reader.join(30)
    with lock.writing():  # the lock is free again
        assert lock._readers == 0
