"""Bulk ingest, one input file (a shard) at a time: read it (any format `embkit add`
reads), check and chunk it with `embkit add`'s own code, embed it, and write one output
parquet shard of (id, text, metadata, vector); a manifest records what is finished, so a
restarted job skips it. The single-machine driver (`ingest_local`) and the Ray driver
(`embkit.distributed`) call the same `embed_shard`: this module has no Ray in it.

An output folder holds `manifest.json` and one `<input stem>.parquet` per input file
(`<stem>-<hash>.parquet` where stems meet; columns id: string, text: string, metadata:
string (JSON), vector: fixed_size_list<float32>[dim]). `embkit import` loads such a folder into a collection
without embedding again."""

import hashlib
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .. import validate
from ..atomic import atomic_write
from ..encoders import CATALOG, load_encoder
from ..encoders.prompts import declared_prompt, encode_as
from ..errors import EmbkitError
from .chunk import check_chunking
from .documents import split_documents
from .folder import read_found
from .manifest import MANIFEST, MANIFEST_FORMAT, InputFile, Manifest, expand_inputs, fingerprint
from .readers import read_source
from .records import Prepared
from .skips import Skipped, summary
from .text_files import read_all

__all__ = ["MANIFEST", "MANIFEST_FORMAT", "Manifest", "expand_inputs", "fingerprint",
           "ShardSettings", "ShardTask", "ShardResult", "ShardRows", "Job", "model_identity",
           "shard_records", "embed_shard", "run_shard", "write_shard", "read_shard", "plan", "ingest_local"]

_NO_ID_COLUMN = "\x00no id column"  # a column name no file has: every id is generated
_SETTINGS = ("model", "dim", "text_column", "id_column", "chunk", "chunk_tokens", "overlap", "document_prompt")


@dataclass(frozen=True)
class ShardSettings:
    """How every shard of a job is embedded; recorded in the manifest, and a rerun with
    other settings into the same folder is refused (its vectors would not match)."""

    model: str = "minilm"
    text_column: str = "text"
    id_column: str | None = "id"  # as `embkit add`; a record without one is `<file>:<row>` (None: always)
    chunk: bool = True
    chunk_tokens: int = 256
    overlap: int = 32
    batch_size: int = 32

    def check(self) -> None:
        """Refuse sizes the chunker cannot honour, before any shard is read."""
        if self.chunk:
            check_chunking(self.chunk_tokens, self.overlap)
        if not isinstance(self.text_column, str) or not self.text_column:
            raise EmbkitError("text_column: expected a column name")


@dataclass(frozen=True)
class ShardTask:
    """One input shard to embed: where it is (absolute), how the user named it (the
    name its ids and metadata carry), the output file name (in the output folder), the
    input's content fingerprint, and whether it was found in a folder (read as `embkit
    add` reads a folder's file: metadata `source`, skipped if it cannot be read)."""

    path: str
    source: str
    output: str
    fingerprint: dict
    in_folder: bool = False


@dataclass
class ShardResult:
    """What embedding one shard produced."""

    path: str
    source: str
    output: str
    documents: int
    rows: int
    seconds: float
    error: str | None = None
    skipped: str | None = None  # a folder's file that cannot be read: why (nothing written)
    skip_kind: str = ""  # and which kind of reason (skips.py)


def model_identity(model: str) -> tuple[str, int, bool]:
    """(name, dim, normalized) of a model as a collection would record it; a catalog
    name is answered without loading the model."""
    entry = CATALOG.get(model)
    if entry is not None and not entry.missing():
        return entry.name, entry.dim, entry.normalized
    encoder = load_encoder(model)  # a folder, a trained name, or a missing package: loading says what is wrong
    return encoder.name, encoder.dim, encoder.normalized


# ---- one shard ----------------------------------------------------------------------

def shard_records(task: ShardTask, settings: ShardSettings) -> tuple[int, Prepared] | Skipped:
    """(documents, records) of one input file, read, checked and chunked by the same
    code as `embkit add` (readers, text_files.read_all, documents.split_documents): the
    same ids, chunk boundaries and metadata. A bad record fails the shard with
    file:line; a folder's file that cannot be read comes back as `Skipped`."""
    id_column = settings.id_column or _NO_ID_COLUMN
    if task.in_folder:
        batch = read_found(Path(task.path), settings.text_column, id_column, name=task.source)
        if isinstance(batch, Skipped):
            return batch
    else:
        batch = read_source(task.path, settings.text_column, id_column, name=task.source)
    docs = read_all([batch], [task.source], [], validate.MAX_DOCUMENT_BYTES) if len(batch) else []
    # --chunk-tokens above the model's window is the user's error (strict), as in `embkit add`
    return len(docs), split_documents(settings.model, docs, settings.chunk, settings.chunk_tokens,
                                      settings.overlap, strict=True)


def embed_shard(task: ShardTask, out_dir: str | Path, settings: ShardSettings, encoder) -> ShardResult:
    """Read, chunk and embed one input shard and write its output shard atomically
    (a crash leaves the old file or none, never half of one). The one function both
    drivers run for every shard: reading and chunking are `embkit add`'s own code, the
    embedding is the worker's part, and `embkit import` writes through the write path."""
    started = time.perf_counter()
    read = shard_records(task, settings)
    if isinstance(read, Skipped):
        return ShardResult(task.path, task.source, task.output, 0, 0, round(time.perf_counter() - started, 3),
                           skipped=read.reason, skip_kind=read.kind)
    documents, records = read
    vectors = encode_as(encoder, records.texts, "document", settings.batch_size) if records.texts else \
        np.empty((0, encoder.dim), dtype=np.float32)
    write_shard(Path(out_dir) / task.output, records.ids, records.texts, records.metadatas, vectors,
                {"model": settings.model, "source": task.source})
    return ShardResult(task.path, task.source, task.output, documents, len(records.ids),
                       round(time.perf_counter() - started, 3))


def write_shard(path: Path, ids: Sequence[str], texts: Sequence[str], metadatas: Sequence[dict],
                vectors: np.ndarray, info: dict | None = None) -> None:
    """One output shard as parquet, written to a temp file and renamed into place."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), type=pa.float32()), dim)
    table = pa.table({"id": pa.array(list(ids), pa.string()), "text": pa.array(list(texts), pa.string()),
                      "metadata": pa.array([json.dumps(m, ensure_ascii=False) for m in metadatas], pa.string()),
                      "vector": column})
    table = table.replace_schema_metadata({"embkit": json.dumps({**(info or {}), "dim": dim})})
    atomic_write(Path(path), lambda tmp: pq.write_table(table, tmp, compression="zstd"))


@dataclass
class ShardRows:
    """The rows of an output shard, as `embkit import` writes them."""

    ids: list[str]
    texts: list[str]
    metadatas: list[dict]
    vectors: np.ndarray  # float32 (n, dim)


def read_shard(path: Path, dim: int) -> ShardRows:
    """An output shard, checked: the four columns with their types, `dim`-wide finite
    vectors, JSON-object metadata. A damaged file is an error naming it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise EmbkitError(f"{path}: not a readable parquet shard ({e})") from None
    missing = [c for c in ("id", "text", "metadata", "vector") if c not in table.column_names]
    if missing:
        raise EmbkitError(f"{path}: missing column {missing[0]!r} (a shard holds id, text, metadata, vector)")
    vector_type = table.schema.field("vector").type
    if not pa.types.is_fixed_size_list(vector_type) or vector_type.list_size != dim \
            or not pa.types.is_float32(vector_type.value_type):
        raise EmbkitError(f"{path}: column 'vector' is {vector_type}, expected fixed_size_list<float>[{dim}]")
    column = table.column("vector").combine_chunks()
    if column.null_count:
        raise EmbkitError(f"{path}: column 'vector' has {column.null_count} empty rows")
    vectors = column.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)
    if not np.isfinite(vectors).all():
        row = int(np.flatnonzero(~np.isfinite(vectors).all(axis=1))[0])
        raise EmbkitError(f"{path}: row {row}: vector has NaN or infinite values")
    ids, texts = table.column("id").to_pylist(), table.column("text").to_pylist()
    metadatas = []
    for row, raw in enumerate(table.column("metadata").to_pylist()):
        try:
            meta = json.loads(raw) if raw else {}
        except (TypeError, ValueError):
            raise EmbkitError(f"{path}: row {row}: metadata is not JSON") from None
        if not isinstance(meta, dict):
            raise EmbkitError(f"{path}: row {row}: metadata is not a JSON object")
        metadatas.append(meta)
    return ShardRows(ids, texts, metadatas, np.ascontiguousarray(vectors, dtype=np.float32))


# ---- the job ---------------------------------------------------------------------------

@dataclass
class Job:
    """An ingest job: settings, the manifest, and the shards still to embed."""

    out: Path
    settings: ShardSettings
    manifest: Manifest
    tasks: list[ShardTask]
    pending: list[ShardTask]  # what this run embeds
    unfinished: list[ShardTask]  # all not finished before it (more than `pending` under a limit)
    started: float = field(default_factory=time.perf_counter)
    skipped: list[Skipped] = field(default_factory=list)  # files found that a text job cannot take
    processed: list[ShardResult] = field(default_factory=list)
    failed: list[ShardResult] = field(default_factory=list)
    unread: list[ShardResult] = field(default_factory=list)  # a folder's files that did not read

    def record(self, result: ShardResult) -> None:
        """Note a shard's outcome; a finished one goes into the manifest at once."""
        if result.error is not None:
            self.failed.append(result)
            return
        if result.skipped is not None:  # not in the manifest: a rerun reads it again
            self.unread.append(result)
            return
        self.processed.append(result)
        done = {r.path for r in (*self.processed, *self.unread)}
        left = [t.source for t in self.unfinished if t.path not in done]
        entry = {"source": result.source, "output": result.output, "documents": result.documents, "rows": result.rows,
                 "fingerprint": next(t.fingerprint for t in self.tasks if t.path == result.path),
                 "seconds": result.seconds}
        self.manifest.record(result.path, entry, left)

    def summary(self) -> dict:
        """Counts for the command's report: `processed`, shards embedded by this run;
        `skipped`, finished before; `pending`, left for a rerun (failed ones included);
        `skipped_files`, files found that cannot be read (images, unknown formats,
        unreadable), and `warning`, the one line `embkit add` would print about them."""
        entries = self.manifest.shards
        skipped_files = sorted([*self.skipped, *(Skipped(r.source, r.skipped, r.skip_kind) for r in self.unread)])
        return {"output": str(self.out), "model": self.manifest.data["model"], "dim": self.manifest.data["dim"],
                "shards": len(self.tasks), "processed": len(self.processed),
                "skipped": len(self.tasks) - len(self.unfinished),
                "skipped_files": [{"file": s.path, "reason": s.reason, "kind": s.kind} for s in skipped_files],
                "warning": summary(skipped_files),
                "failed": [{"input": r.source, "error": r.error} for r in self.failed],
                "pending": len(self.unfinished) - len(self.processed) - len(self.unread),
                "documents": sum(r.documents for r in self.processed),
                "rows": sum(r.rows for r in self.processed),
                "total_rows": sum(entries[t.path]["rows"] for t in self.tasks if t.path in entries),
                "seconds": round(time.perf_counter() - self.started, 3)}


def plan(inputs: Sequence[str], out: str | Path, settings: ShardSettings, limit: int | None = None) -> Job:
    """Expand the inputs, open (or start) the manifest and list the shards to embed:
    every input not finished with the same bytes; `limit` caps how many this run does."""
    settings.check()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise EmbkitError(f"output: {out} exists and is not a folder")
    files, skipped = expand_inputs(inputs, exclude=out)
    name, dim, normalized = model_identity(settings.model)
    wanted = {"model": name, "dim": dim, "text_column": settings.text_column, "id_column": settings.id_column,
              "chunk": settings.chunk, "chunk_tokens": settings.chunk_tokens, "overlap": settings.overlap,
              "document_prompt": declared_prompt(name, "document")}  # what import checks against the space
    manifest = Manifest.load(out)
    if manifest is None:
        manifest = Manifest(out, {"format": MANIFEST_FORMAT, "version": 1, **wanted, "normalized": normalized,
                                  "shards": {}, "pending": []})
    else:
        manifest.data.setdefault("document_prompt", "")  # shards made before prompts were applied had none
        for key in _SETTINGS:
            if manifest.data.get(key) != wanted[key]:
                raise EmbkitError(f"{key}: {out} holds shards made with {key} {manifest.data.get(key)!r}, this job "
                                  f"asks for {wanted[key]!r}; use another output folder or the same settings")
    outputs = _output_names(files)
    tasks = [ShardTask(str(f.path), f.name, outputs[f.path], fingerprint(f.path), f.in_folder) for f in files]
    unfinished = [t for t in tasks if not manifest.finished(t.path, t.fingerprint)]
    pending = unfinished if limit is None else unfinished[:max(0, limit)]
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.parquet*.tmp"):  # left by a worker killed mid-write (one job per folder)
        stale.unlink(missing_ok=True)
    manifest.data["pending"] = [t.source for t in unfinished]
    manifest.save()
    return Job(out, ShardSettings(**{**asdict(settings), "model": name}), manifest, tasks, pending, unfinished,
               skipped=list(skipped))


def _output_names(files: Sequence[InputFile]) -> dict[Path, str]:
    """`<stem>.parquet` per input, and `<stem>-<hash of its name>.parquet` for inputs
    whose stems meet (a docs folder holds many `index.md`)."""
    stems = Counter(f.path.stem for f in files)
    return {f.path: f"{f.path.stem}.parquet" if stems[f.path.stem] == 1
            else f"{f.path.stem}-{hashlib.sha256(f.name.encode()).hexdigest()[:10]}.parquet" for f in files}


def run_shard(task: ShardTask, out: Path, settings: ShardSettings, encoder) -> ShardResult:
    """`embed_shard`, with a bad shard turned into a result naming the error (the
    other shards still run; the job reports it and a rerun tries it again)."""
    started = time.perf_counter()
    try:
        return embed_shard(task, out, settings, encoder)
    except (EmbkitError, OSError) as e:
        message = str(e) if isinstance(e, EmbkitError) else f"{task.source}: {type(e).__name__}: {e}"
        return ShardResult(task.path, task.source, task.output, 0, 0, round(time.perf_counter() - started, 3), message)


def ingest_local(inputs: Sequence[str], out: str | Path, model: str = "minilm", *, text_column: str = "text",
                 id_column: str | None = "id", chunk: bool = True, chunk_tokens: int = 256, overlap: int = 32,
                 batch_size: int = 32, limit: int | None = None, threads: int | None = None,
                 on_shard: Callable[[ShardResult], None] | None = None, on_plan: Callable[[Job], None] | None = None
                 ) -> dict:
    """Embed the input shards in this process, one after another, into `out`
    (skipping those the manifest has finished). Returns the job summary."""
    settings = ShardSettings(model, text_column, id_column, chunk, chunk_tokens, overlap, batch_size)
    job = plan(inputs, out, settings, limit)
    if on_plan:
        on_plan(job)
    encoder = load_encoder(job.settings.model, threads=threads) if job.pending else None
    for task in job.pending:
        result = run_shard(task, job.out, job.settings, encoder)
        job.record(result)
        if on_shard:
            on_shard(result)
    return job.summary()
