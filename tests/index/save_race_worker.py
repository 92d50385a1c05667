"""One of several processes hammering the same collection: open, add, search (dense and
keyword), close (which saves both indexes), until a deadline. Prints a JSON line
{"calls": n, "rounds": n, "failures": [...], "unusable": [...]} — a plain script, run by test_concurrent_saves.py.

Usage: python save_race_worker.py DIR WORKER SECONDS DIM"""

import json
import sys
import time
import traceback
import warnings

import numpy as np

import embkit


def main(folder: str, worker: str, seconds: float, dim: int) -> None:
    rng = np.random.default_rng(abs(hash(worker)) % 2**32)
    deadline = time.monotonic() + seconds
    calls, failures, round_ = 0, [], 0

    def call(what, fn):
        nonlocal calls
        calls += 1
        try:
            return fn()
        except Exception:  # every failure is recorded: the test wants none
            failures.append(f"{what}: {traceback.format_exc(limit=4)}")
            return None

    unusable = []  # "index ... is unusable; rebuilding": a load that saw a save half done
    while time.monotonic() < deadline:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            col = call("open", lambda: embkit.open(folder))
            if col is None:
                continue
            vectors = rng.normal(size=(3, dim)).astype(np.float32)
            ids = [f"{worker}-{round_}-{i}" for i in range(3)]
            # each lambda is called at once, inside this iteration (B023 cannot see that)
            call("add", lambda: col.add([f"word{round_} shared text {i}" for i in range(3)], ids=ids,  # noqa: B023
                                        vectors=vectors))  # noqa: B023
            call("search", lambda: col.search(vector=vectors[0], k=5))  # noqa: B023
            call("keyword", lambda: col.search("shared text", k=5, mode="keyword"))  # noqa: B023
            call("close", col.close)
            round_ += 1
        unusable += [str(w.message) for w in caught if "unusable" in str(w.message)]
    print(json.dumps({"calls": calls, "rounds": round_, "failures": failures, "unusable": unusable}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
