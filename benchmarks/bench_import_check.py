"""`embkit import`'s check before the first write (ingest/bulk.py _check_all) on a
100k-row shard set (10 shards of 10,000 rows, 384-d unit vectors), before and after
its vectors were checked by stored_form (commit 469716d). Each side in its own
process, paired rounds in one run, reported as new/old ratios of thread-CPU and wall.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/bench_import_check.py /tmp/V2/bench
"""

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

ROWS, SHARDS, DIM, ROUNDS = 100_000, 10, 384, 3
OLD = "469716d^"  # bulk.py before the vector check


def make(folder: Path) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    per = ROWS // SHARDS
    for s in range(SHARDS):
        v = rng.standard_normal((per, DIM), dtype=np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        ids = [f"s{s}-{i}" for i in range(per)]
        table = pa.table({"id": ids, "text": [f"text {i}" for i in ids], "metadata": ["{}"] * per,
                          "vector": pa.FixedSizeListArray.from_arrays(pa.array(v.ravel()), DIM)})
        pq.write_table(table, folder / f"part-{s:03}.parquet")


def side(which: str, folder: Path, metric: str) -> dict:
    if which == "old":
        source = subprocess.run(["git", "show", f"{OLD}:src/embkit/ingest/bulk.py"], capture_output=True,
                                text=True, check=True).stdout
        path = folder.parent / "bulk_old.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location("embkit.ingest.bulk_old", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        check = lambda f, e: module._check_all(f, e, DIM)  # noqa: E731
    else:
        from embkit.ingest import bulk
        check = lambda f, e: bulk._check_all(f, e, DIM, metric)  # noqa: E731
    entries = [{"output": p.name, "rows": ROWS // SHARDS} for p in sorted(folder.glob("*.parquet"))]
    cpu, wall = time.thread_time(), time.perf_counter()
    assert len(check(folder, entries)) == ROWS
    return {"cpu": time.thread_time() - cpu, "wall": time.perf_counter() - wall}


def main() -> None:
    if sys.argv[1] == "--side":
        print(json.dumps(side(sys.argv[2], Path(sys.argv[3]), sys.argv[4])))
        return
    folder = Path(sys.argv[1]) / "shards"
    if not folder.exists():
        make(folder)
    for metric in ("cosine", "l2"):
        got = {"old": [], "new": []}
        for r in range(ROUNDS):
            for which in (("old", "new") if r % 2 == 0 else ("new", "old")):
                out = subprocess.run([sys.executable, __file__, "--side", which, str(folder), metric],
                                     capture_output=True, text=True, check=True).stdout
                got[which].append(json.loads(out))
        for key in ("cpu", "wall"):
            old = sorted(x[key] for x in got["old"])[ROUNDS // 2]
            new = sorted(x[key] for x in got["new"])[ROUNDS // 2]
            print(f"{metric:6} {key:4}: old {old:.3f}s new {new:.3f}s ratio new/old {new / old:.3f} "
                  f"(per-round ratios {[round(n[key] / o[key], 3) for n, o in zip(got['new'], got['old'])]})")


if __name__ == "__main__":
    main()
