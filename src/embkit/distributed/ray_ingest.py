"""Bulk ingest on Ray Data: the input shards' paths become a dataset (one block a
shard), an actor pool maps them through `EmbedShards` (the model loaded once per
actor, which then runs the same `embed_shard` as the single-machine path), and the
driver streams the results back to update the manifest and the progress bar.

Workers read inputs and write outputs by path, so on a cluster of several machines the
input and output folders must be on storage every node sees. Actors take a fraction of
a CPU (`cpus_per_worker`, 0.5 by default) and run that many inference threads, rounded
up to one: on a small machine, actors holding whole CPUs can leave none for Ray Data's
own tasks and stall the job. A killed actor is restarted and its shard retried (Ray
Data's actor pools restart actors and retry their tasks without limit by default)."""

import dataclasses
import logging
import os
from pathlib import Path
from typing import Callable, Sequence

from ..encoders import load_encoder
from ..ingest.shards import Job, ShardResult, ShardSettings, ShardTask, plan, run_shard
from .ray_connect import connect

_RESULT_FIELDS = [f.name for f in dataclasses.fields(ShardResult)]


class EmbedShards:
    """The Ray Data map: loads the encoder once (per actor), then embeds each shard of
    a batch with the shared per-shard function and returns one result row per shard."""

    def __init__(self, out: str, settings: dict, threads: int = 1):
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        self.out, self.settings = Path(out), ShardSettings(**settings)
        self.encoder = load_encoder(self.settings.model, threads=threads)  # at most `threads` inference threads

    def __call__(self, batch: dict) -> dict:
        rows: dict[str, list] = {name: [] for name in (*_RESULT_FIELDS, "pid")}
        for path, source, output, in_folder in zip(batch["path"], batch["source"], batch["output"],
                                                   batch["in_folder"]):
            task = ShardTask(str(path), str(source), str(output), {}, bool(in_folder))
            result = dataclasses.asdict(run_shard(task, self.out, self.settings, self.encoder))
            for name in ("error", "skipped"):
                result[name] = result[name] or ""  # one column type
            for name in _RESULT_FIELDS:
                rows[name].append(result[name])
            rows["pid"].append(os.getpid())
        return rows


def ingest_distributed(inputs: Sequence[str], out: str | Path, model: str = "minilm", *, address: str = "auto",
                       workers: int = 2, cpus_per_worker: float = 0.5, text_column: str = "text",
                       id_column: str | None = "id", chunk: bool = True, chunk_tokens: int = 256, overlap: int = 32,
                       batch_size: int = 32, limit: int | None = None, temp_dir: str | None = None,
                       on_shard: Callable[[ShardResult], None] | None = None,
                       on_plan: Callable[[Job], None] | None = None) -> dict:
    """Embed the input shards on Ray into `out` (skipping those the manifest has
    finished) and return the job summary. `address`: `auto`, `host:port`,
    `ray://host:port` or `local` (see `cluster.connect`); a process already connected
    to Ray uses that connection."""
    _check_pool(workers, cpus_per_worker)
    settings = ShardSettings(model, text_column, id_column, chunk, chunk_tokens, overlap, batch_size)
    job = plan(inputs, out, settings, limit)
    if on_plan:
        on_plan(job)
    if job.pending:
        with connect(address, temp_dir=temp_dir) as ray:
            for result in run_on_ray(ray, job.pending, job.out, job.settings, workers, cpus_per_worker):
                job.record(result)
                if on_shard:
                    on_shard(result)
    return job.summary()


def run_on_ray(ray, tasks: list[ShardTask], out: Path, settings: ShardSettings, workers: int = 2,
               cpus_per_worker: float = 0.5):
    """Yield a `ShardResult` per task as the actor pool finishes them (any order)."""
    context = ray.data.DataContext.get_current()
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)  # "progress bars disabled"
    context.enable_progress_bars = False  # the command draws its own bar
    items = [{"path": t.path, "source": t.source, "output": t.output, "in_folder": t.in_folder} for t in tasks]
    dataset = ray.data.from_items(items, override_num_blocks=len(items))  # one block a shard: even load
    threads = max(1, int(cpus_per_worker))
    mapped = dataset.map_batches(
        EmbedShards, batch_size=1, compute=ray.data.ActorPoolStrategy(size=min(workers, len(items))),
        num_cpus=cpus_per_worker, fn_constructor_kwargs={
            "out": str(Path(out).resolve()), "settings": dataclasses.asdict(settings), "threads": threads},
        runtime_env={"env_vars": {"OMP_NUM_THREADS": str(threads)}})
    for row in mapped.iter_rows():
        yield ShardResult(str(row["path"]), str(row["source"]), str(row["output"]), int(row["documents"]),
                          int(row["rows"]), float(row["seconds"]), str(row["error"]) or None,
                          str(row["skipped"]) or None, str(row["skip_kind"]))


def _check_pool(workers, cpus_per_worker) -> None:
    from ..errors import EmbkitError

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise EmbkitError(f"workers: expected a positive integer, got {workers!r}")
    if isinstance(cpus_per_worker, bool) or not isinstance(cpus_per_worker, (int, float)) or not cpus_per_worker > 0:
        raise EmbkitError(f"cpus_per_worker: expected a positive number, got {cpus_per_worker!r}")


def embed_into(col, ids: Sequence[str], texts: Sequence[str], metadatas: Sequence[dict], *, address: str = "auto",
               work_dir: str | Path, shard_rows: int = 500, workers: int = 2, cpus_per_worker: float = 0.5,
               progress: Callable[[int], None] | None = None) -> dict:
    """Embed documents on Ray with the collection's model (whole, not chunked: as
    `col.add(..., chunk=False)` does, for the BEIR evaluation) and bulk-load them into
    `col`: they go through jsonl shards in `work_dir` (which every Ray node must reach;
    removed afterwards)."""
    import json
    import shutil

    from ..ingest.bulk import import_shards

    work = Path(work_dir)
    shutil.rmtree(work, ignore_errors=True)
    (work / "input").mkdir(parents=True)
    try:
        for number, start in enumerate(range(0, len(ids), shard_rows)):
            with open(work / "input" / f"part-{number:05d}.jsonl", "w", encoding="utf-8") as f:
                for i in range(start, min(start + shard_rows, len(ids))):
                    f.write(json.dumps({"id": ids[i], "text": texts[i], "metadata": metadatas[i]},
                                       ensure_ascii=False) + "\n")
        # the shards by name (a glob), not as a folder's files: no metadata `source` naming this temp folder
        summary = ingest_distributed([str(work / "input" / "*.jsonl")], work / "vectors", col.space.model,
                                     address=address, workers=workers, cpus_per_worker=cpus_per_worker,
                                     id_column="id", chunk=False,
                                     on_shard=(lambda r: progress(r.documents)) if progress else None)
        if summary["failed"]:
            from ..errors import EmbkitError

            raise EmbkitError(summary["failed"][0]["error"])
        return import_shards(col, work / "vectors")
    finally:
        shutil.rmtree(work, ignore_errors=True)
