"""Timing, memory, disk and interference helpers shared by the growth benchmark's sides."""

import json
import os
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

TICKS = os.sysconf("SC_CLK_TCK")


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: ru_maxrss would carry the parent's
    peak over fork and exec)."""
    return _status_mib("VmHWM:")


def rss_mib() -> float:
    """This process's resident memory now (VmRSS)."""
    return _status_mib("VmRSS:")


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


def disk_bytes(path: str | Path) -> int:
    """Bytes that the files under `path` occupy on disk (allocated blocks, like du)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:  # a temporary file went away while walking
                pass
    return total


class Interference:
    """CPU-seconds other processes used while this one ran: the machine is shared, so
    each figure says how busy the rest of it was (from /proc/stat and our own times)."""

    def __init__(self):
        self.start = self._now()

    @staticmethod
    def _now() -> tuple[float, float]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait
        own = os.times()
        return busy / TICKS, own.user + own.system + own.children_user + own.children_system

    def others_cpu_s(self) -> float:
        busy, own = self._now()
        return round(max(0.0, (busy - self.start[0]) - (own - self.start[1])), 1)


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of `fn` took."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def latencies(fn: Callable[[int], object], count: int, budget_s: float, warmup: int = 5) -> dict:
    """fn(i) for i in range(count) after `warmup` untimed calls: p50, p99, mean (ms) and
    single-thread queries per second; stops after `budget_s` once 20 calls are timed
    (n says how many were)."""
    for i in range(min(warmup, count)):
        fn(i)
    started, times = time.perf_counter(), []
    for i in range(count):
        times.append(timed(lambda i=i: fn(i)) * 1000)
        if i >= 19 and time.perf_counter() - started > budget_s:
            break
    return summary(np.array(times))


def summary(times_ms: np.ndarray) -> dict:
    return {"n": int(len(times_ms)), "p50_ms": round(float(np.percentile(times_ms, 50)), 3),
            "p99_ms": round(float(np.percentile(times_ms, 99)), 3), "mean_ms": round(float(times_ms.mean()), 3),
            # one thread's queries per second from the median: the mean takes in other people's
            # jobs on this shared machine (mean_ms is kept beside it)
            "qps": round(1000 / float(np.percentile(times_ms, 50)), 1)}


def add_then_search(add: Callable[[int], object], search: Callable[[int], object], rounds: int,
                    budget_s: float) -> dict:
    """Rounds of add-one-document then one search, timed whole and in parts (ms); stops
    after `budget_s` seconds once 3 rounds are done, so a slow mode at 1M stays bounded."""
    started, totals, adds, searches = time.perf_counter(), [], [], []
    for r in range(rounds):
        t0 = time.perf_counter()
        add(r)
        t1 = time.perf_counter()
        search(r)
        t2 = time.perf_counter()
        adds.append((t1 - t0) * 1000)
        searches.append((t2 - t1) * 1000)
        totals.append((t2 - t0) * 1000)
        if r >= 2 and time.perf_counter() - started > budget_s:
            break
    return {**summary(np.array(totals)), "add_p50_ms": round(float(np.median(adds)), 3),
            "search_p50_ms": round(float(np.median(searches)), 3)}


def delete_tenth(delete: Callable[[list[str]], object], n: int, batch: int = 5000) -> float:
    """Seconds to delete every tenth document (ids s0, s10, ...) in batches: what compact then gives back."""
    ids = [f"s{i}" for i in range(0, n, 10)]
    started = time.perf_counter()
    for start in range(0, len(ids), batch):
        delete(ids[start:start + batch])
    return time.perf_counter() - started


RECALL_QUERIES = 50  # queries whose top 10 are checked against an exact search


def recall_at_10(vectors: np.ndarray, queries: np.ndarray, got: list[list[str]], every: int = 1, at: int = 0) -> float:
    """Mean share of the exact top 10 (inner product of unit vectors, over rows i with
    i mod `every` == `at`; ids "s<i>") that a side's top 10 holds."""
    rows = np.arange(at, len(vectors), every)
    hits = []
    for q, ids in zip(queries[:len(got)], got):
        scores = np.concatenate([vectors[rows[s:s + 100_000]] @ q for s in range(0, len(rows), 100_000)])
        exact = {f"s{rows[i]}" for i in np.argsort(-scores, kind="stable")[:10]}
        hits.append(len(exact & set(ids)) / len(exact))
    return round(float(np.mean(hits)), 4)


def emit(result: dict) -> None:
    """The side's result: one JSON line on stdout, the parent's only input."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def add_then_search_per_mode(add_one: Callable[[int], object], search: dict, spec: dict) -> dict:
    """Per mode of `search`: add one new document (`add_one(i)`: the pool's i-th, after
    the N-th), then search; the first add is timed on its own (a one-off)."""
    out, used = {}, 1
    out["first_add_ms"] = timed(lambda: add_one(spec["n"])) * 1000
    for mode, query in search.items():
        def add(r: int, base: int = spec["n"] + used) -> None:
            add_one(base + r)

        out[mode] = add_then_search(add, query, spec["rounds"], spec["budget_s"])
        used += out[mode]["n"]
    return out
