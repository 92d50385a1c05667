"""Exact thread interleavings for race tests: a tracer that pauses a thread at chosen
lines of one function until the test lets it go."""

import linecache
import threading


def paused_at(filename: str, function: str, lines: list[str], reached: list[threading.Event],
              go: list[threading.Event]):
    """A tracer (for sys.settrace) pausing the thread at the first execution, in
    `function` of `filename`, of a line containing lines[i]: sets reached[i], then waits
    for go[i]."""
    done = [False] * len(lines)

    def local(frame, event, arg):
        if event == "line":
            text = linecache.getline(frame.f_code.co_filename, frame.f_lineno)
            for i, line in enumerate(lines):
                if not done[i] and line in text:
                    done[i] = True
                    reached[i].set()
                    assert go[i].wait(10)
        return local

    def tracer(frame, event, arg):
        if frame.f_code.co_filename == filename and frame.f_code.co_name == function:
            return local
        return None

    return tracer
