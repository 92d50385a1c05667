"""One large `add` keeps both cores busy (issue 23, item 1): the ONNX encoder's batches
run on two single-threaded workers at once. Shown without timing: the first two
session calls of a large add wait for each other at a barrier, which only calls
running at the same time can pass."""

import os
import threading

import onnxruntime.capi.onnxruntime_inference_collection as ort_session
import pytest

import embkit

from corpora import two_sources


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: the encoder runs one worker")
def test_a_large_add_runs_two_encoder_batches_at_once(tmp_path, monkeypatch):
    barrier = threading.Barrier(2, timeout=60)  # a lone caller waits out the timeout, then fails
    threads: set[int] = set()
    calls = []
    plain_run = ort_session.InferenceSession.run

    def run(self, *args, **kwargs):
        threads.add(threading.get_ident())
        calls.append(1)  # list.append is atomic under the GIL
        if len(calls) <= 2:  # the first two batches: raises BrokenBarrierError unless both run at once
            barrier.wait()
        return plain_run(self, *args, **kwargs)

    col = embkit.create(tmp_path / "c", model="minilm")
    texts = two_sources(32)[0]  # 64 short texts: many batches
    monkeypatch.setattr(ort_session.InferenceSession, "run", run)
    col.add(texts, ids=[str(i) for i in range(len(texts))])
    monkeypatch.undo()
    assert len(threads) == 2  # two workers, no more: one a core
    assert len(calls) > 2 and col.count() == len(texts) and col.search(texts[5], k=1)[0].id == "5"
    col.close()
