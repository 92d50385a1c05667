"""Two processes asking for the same export at once (encoders/onnx_weights.write_apart):
one builds it, the other waits on the lock beside it and then uses it as it is."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from embkit.encoders.bert_graph import build_bert_onnx  # noqa: E402

from tiny_bert_weights import tiny_bert  # noqa: E402

# A process that builds the export: each build is logged (its pid) and held until the
# test's `go` file appears, so the other process asks for the export while it is built.
CHILD = """
import json, os, sys, time
from pathlib import Path
import numpy as np, onnxruntime as ort
from embkit.encoders import export

folder, log, go = (Path(a) for a in sys.argv[1:4])
real = export._write_fp32

def held(model_dir, path):
    with open(log, "a") as file:
        file.write(f"{os.getpid()}\\n")
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    real(model_dir, path)

export._write_fp32 = held
path = export.fp32_onnx(folder)
ids = np.array([[1, 7, 9, 2]], dtype=np.int64)
out = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
    None, {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)})[0]
print(json.dumps({"path": str(path), "out": out.ravel().tolist()}))
"""


def _wait(condition, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _blocked_on(pid: int, path: Path) -> bool:
    """True when process `pid` waits for a flock on `path` (a `->` line of /proc/locks)."""
    try:
        inode = os.stat(path).st_ino
    except FileNotFoundError:
        return False
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields and fields[fields.index("->") + 1] == "FLOCK" \
                and fields[-4] == str(pid) and fields[-3].endswith(f":{inode}"):
            return True
    return False


def test_two_processes_building_the_same_export_build_it_once(tmp_path):
    """The first process holds the lock while it builds; the second one waits on it
    (or, without the lock, built the export a second time: two log lines) and then
    loads the first one's files. Both get the outputs of the graph built in memory."""
    folder = tiny_bert(tmp_path / "model")
    home, log, go = tmp_path / "home", tmp_path / "builds.log", tmp_path / "go"
    env = {**os.environ, "EMBKIT_HOME": str(home)}
    log.touch()
    args = [sys.executable, "-c", CHILD, str(folder), str(log), str(go)]
    first = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait(lambda: log.read_text().count("\n") == 1, "the first build")
        lock = next((home / "models").glob("*-fp32.onnx.lock"), None)
        second = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _wait(lambda: log.read_text().count("\n") == 2 or (lock and _blocked_on(second.pid, lock)),
                  "the second process to wait on the lock or build too")
            go.touch()
            outputs = [process.communicate(timeout=120) for process in (first, second)]
        finally:
            second.kill()
    finally:
        first.kill()
    assert [process.returncode for process in (first, second)] == [0, 0], [err for _, err in outputs]
    assert log.read_text().split() == [str(first.pid)]
    results = [json.loads(out) for out, _ in outputs]
    path = Path(results[0]["path"])
    assert results[1]["path"] == str(path)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".data"]
    onnx.checker.check_model(str(path))
    ids = np.array([[1, 7, 9, 2]], dtype=np.int64)
    inside = ort.InferenceSession(build_bert_onnx(folder).SerializeToString(), providers=["CPUExecutionProvider"])
    expected = inside.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                 "token_type_ids": np.zeros_like(ids)})[0].ravel().tolist()
    assert results[0]["out"] == results[1]["out"] == expected
