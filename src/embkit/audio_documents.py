"""Audio documents in a collection: one document per file, embedded by the audio space's
encoder. A clip that fits the model's window is one record (the file's id); a longer
one is split into overlapping windows stored as the document's chunks `ID#0`, `ID#1`,
... with `parent`, `chunk`, and `start`/`end` in seconds, so a hit points into the file.
Every record carries the file's metadata (path, bytes, duration_s, sample_rate,
channels, format). The collection hands itself in (this module sits below collection/)."""

from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from . import validate
from .encoders import Encoder
from .errors import EmbkitError
from .ingest.audio_files import read_audio, windows
from .ingest.skips import Skipped


class AudioSpace(Protocol):
    """What audio documents need of a collection's audio space (a `Collection` is one)."""

    def add(self, *, ids: list[str], metadatas: list[dict], vectors: np.ndarray) -> object: ...

    def upsert(self, *, ids: list[str], metadatas: list[dict], vectors: np.ndarray) -> object: ...


def add_audio(col: AudioSpace, paths: Sequence[str], *, audio_encoder: Callable[[], Encoder],
              refuse_existing: Callable[[list[str]], None], ids, metadatas, upsert: bool, batch_size: int,
              progress) -> tuple[list[str], list[Skipped]]:
    """(document ids written, skipped files). `audio_encoder()` embeds sounds into `col`'s
    space (it names `sample_rate` and `window_seconds`); `refuse_existing` raises for
    ids already stored (before any file is decoded). A file that does not decode whole
    is skipped with its reason; the rest land in one transaction."""
    if isinstance(paths, (str, Path)) or not isinstance(paths, Sequence):
        raise EmbkitError("paths: expected a list of audio file paths")
    paths = [str(p) for p in paths]
    ids = validate.check_ids(ids, len(paths)) if ids is not None else paths
    metadatas = validate.check_metadatas(metadatas, len(paths))
    if len(set(ids)) != len(ids):
        raise EmbkitError("ids: the same id (or path) twice in one batch")
    encoder = audio_encoder()
    if not upsert:  # fail before decoding anything; checked again inside the transaction
        refuse_existing(list(ids))
    records, vectors, documents, skipped = [], [], [], []
    for path, doc_id, extra in zip(paths, ids, metadatas):
        try:
            clip = read_audio(path, encoder.sample_rate)
        except EmbkitError as e:
            skipped.append(Skipped(path, str(e).removeprefix(f"audio: {path} ")))  # the path is Skipped's own
        else:
            parts = windows(clip.samples, clip.rate, encoder.window_seconds)
            records += _records(doc_id, {**clip.metadata, **extra}, parts)
            vectors.append(encoder.encode([w.samples for w in parts], batch_size=batch_size))
            documents.append(doc_id)
        if progress:
            progress(1)
    if not documents:
        return [], skipped
    write = col.upsert if upsert else col.add
    write(ids=[r[0] for r in records], metadatas=[r[1] for r in records], vectors=np.concatenate(vectors))
    return documents, skipped


def _records(doc_id: str, metadata: dict, parts: list) -> list[tuple[str, dict]]:
    """(id, metadata) per window: the document itself when one window holds it, else
    its chunks `ID#i`, each naming it in `parent`."""
    duration = metadata["duration_s"]  # resampling may add part of a sample at the end: not past the file's end
    if len(parts) == 1:
        return [(doc_id, {**metadata, "start": 0.0, "end": duration})]
    return [(f"{doc_id}#{i}", {**metadata, "parent": doc_id, "chunk": i, "start": w.start,
                               "end": min(w.end, duration)}) for i, w in enumerate(parts)]
