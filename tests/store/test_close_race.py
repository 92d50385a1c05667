"""close() while a thread opens its first read connection: that connection is closed
too and the read refuses, as every read after close() does.

Before, `_closed` was checked before the connection opened and not again when it was
listed: it landed in the list close() had already emptied, was never closed (its file
descriptors stayed), and the thread read on after close()."""

import threading
import time

import numpy as np
import pytest

import embkit


def test_a_reader_opened_while_close_runs_is_closed_and_the_read_refuses(tmp_path):
    col = embkit.create(tmp_path / "c", model=None, dim=4)
    col.add(ids=["a"], vectors=np.ones((1, 4), np.float32))
    connections = col._store._connections
    open_reader, opening, opened = connections._open_reader, threading.Event(), []

    def slow_open():  # the connection opens while close() runs
        opening.set()
        time.sleep(0.3)
        conn = open_reader()
        opened.append(conn)
        return conn

    connections._open_reader = slow_open
    out = []

    def first_read():
        try:
            out.append(col._store.count())
        except Exception as e:  # noqa: BLE001 - handed to the test
            out.append(e)

    thread = threading.Thread(target=first_read)
    thread.start()
    assert opening.wait(30)
    col.close()
    thread.join(30)
    assert len(out) == 1 and isinstance(out[0], Exception), out
    assert connections.reader_count() == 0
    with pytest.raises(Exception, match="closed"):
        opened[0].execute("SELECT 1")
