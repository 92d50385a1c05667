"""A collection that mirrors a folder (`embkit sync`, `Collection.sync`, the HTTP sync
route). Files are read as `embkit add DIR FOLDER` reads them (the same ids, chunks and
metadata `source` FOLDER/PATH), plus metadata `sha256`, the file's content hash. A new
or changed file's documents are written through the one write path (an upsert: stale
chunks go), a batch of files a transaction; an unchanged file is hashed and nothing
more; the documents of a file that is gone, or emptied, are deleted in one
transaction (an empty file holding none is unchanged). A file that cannot be read is
skipped and keeps its documents.

The patterns scope the whole sync: only the folder's files they choose are read, and
only stored documents whose file they would choose can be removed. Images and sounds are
skipped (`embkit add` puts them in their image and audio spaces). The collection comes in as an argument."""

import hashlib
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path, PurePosixPath
from typing import Callable, NamedTuple, Sequence

from .. import validate
from ..errors import EmbkitError
from .audio_files import is_audio_path
from .documents import split_documents
from .embedding_cache import counting
from .folder import read_found, walk
from .image_files import is_image_path
from .records import document_of
from .selection import check_patterns, chosen
from .skips import AUDIO, IMAGE, Skipped, holds, summary
from .text_files import read_all

Lock = Callable[[], AbstractContextManager]  # a server's lock.reading / lock.writing
BATCH_FILES = 64  # files written per transaction
TEXT_SPACE = "text"  # the collection's text space (collection/spaces.py), named here as add_files.py does


class Synced(NamedTuple):
    """What a sync did (or, with `dry_run`, would do): file names (FOLDER/PATH) added,
    changed, unchanged and removed, files skipped, documents written and deleted, and
    chunks embedded by the model or taken from the embedding cache."""

    folder: str
    added: list[str]
    changed: list[str]
    unchanged: list[str]
    removed: list[str]
    skipped: list[Skipped]
    documents: int = 0
    deleted: int = 0
    embedded: int = 0
    cached: int = 0
    dry_run: bool = False
    warnings: list[str] = []

    @property
    def summary(self) -> str:
        """One line: `synced docs: 2 added, 1 changed, 7 unchanged, 1 removed; 3 chunks embedded, 5 from cache`."""
        head = "would sync" if self.dry_run else "synced"
        counts = f"{len(self.added)} added, {len(self.changed)} changed, {len(self.unchanged)} unchanged, " \
                 f"{len(self.removed)} removed"
        skipped = f", {len(self.skipped)} skipped" if self.skipped else ""
        work = "" if self.dry_run else f"; {self.embedded} chunks embedded, {self.cached} from cache"
        return f"{head} {self.folder}: {counts}{skipped}{work}"

    def as_dict(self) -> dict:
        """The JSON shape the CLI (--json) and HTTP give: file lists, and their counts."""
        return {"folder": self.folder, "dry_run": self.dry_run,
                "counts": {"added": len(self.added), "changed": len(self.changed),
                           "unchanged": len(self.unchanged), "removed": len(self.removed),
                           "skipped": len(self.skipped)},
                "added": self.added, "changed": self.changed, "removed": self.removed,
                "skipped": [{"file": s.path, "reason": s.reason, "kind": s.kind} for s in self.skipped],
                "documents": self.documents, "deleted": self.deleted, "embedded": self.embedded,
                "cached": self.cached, "warnings": self.notes()}

    def notes(self, verbose: bool = False) -> list[str]:
        """The warnings, then the one line over the files skipped (if any)."""
        return [*self.warnings, *([summary(self.skipped, verbose)] if self.skipped else [])]


class Found(NamedTuple):
    """A file of the folder: its path, its name (FOLDER/PATH) and its content hash."""

    path: Path
    name: str
    sha256: str


def sync_folder(col, folder: str | Path, *, include: Sequence[str] | None = None,
                exclude: Sequence[str] | None = None, dry_run: bool = False, batch_size: int = 32,
                name: str | None = None, reading: Lock = nullcontext, writing: Lock = nullcontext) -> Synced:
    """Make `col` mirror `folder` (see the module's text); returns what changed. Its
    files are named `name`/PATH (`name`: the folder as given, by default). A server
    passes its lock's `reading` and `writing`: files are read and embedded beside
    searches, and only the store's writes exclude them."""
    include, exclude = check_patterns(include, "include"), check_patterns(exclude, "exclude")
    root = Path(folder)
    if not root.is_dir():
        raise EmbkitError(f"folder: {folder} is not a folder")
    if TEXT_SPACE not in col.spaces:
        raise EmbkitError(f"folder: the collection {holds(col.spaces)}; sync mirrors text files")
    label = Path(folder if name is None else name)
    with reading():
        stored = stored_files(col, label, include, exclude)
    plan = Plan(str(label), dry_run)
    for path in walk(root, include, exclude):
        plan.classify(path, str(label / path.relative_to(root)), stored)
    plan.removed += sorted(set(stored) - plan.seen)
    if dry_run:  # new and changed files are read (a file that would be skipped says so), not embedded
        for start in range(0, len(plan.to_write), BATCH_FILES):
            plan.read(plan.to_write[start:start + BATCH_FILES], stored)
        return plan.result(dry_run=True)
    with counting() as counts:
        for start in range(0, len(plan.to_write), BATCH_FILES):
            plan.write(col, plan.to_write[start:start + BATCH_FILES], stored, batch_size, (reading, writing))
    # a document another file now holds (a jsonl record moved, a file renamed) was just written: it stays
    doomed = sorted(({d for name in plan.removed for d in stored[name][0]} | plan.orphans) - plan.written)
    with writing():
        deleted = col.remove(ids=doomed).documents if doomed else 0
    return plan.result(deleted=deleted, embedded=counts.embedded, cached=counts.cached)


def stored_files(col, label: Path, include: Sequence[str], exclude: Sequence[str]) -> dict[str, tuple[set, set]]:
    """{file name: (document ids, sha256 values)} of the stored records a sync wrote (they
    carry `sha256`) whose metadata `source` names a file under the folder called `label`
    that the patterns choose. A record written otherwise is never sync's to remove, even
    with such a `source`; its file, if there, is taken over by upsert as a new one."""
    prefix = "" if label == Path(".") else f"{label}/"
    found: dict[str, tuple[set, set]] = {}
    owned = {"$and": [{"source": {"$prefix": prefix}}, {"sha256": {"$prefix": ""}}]}
    for doc in col.lookup(where=owned).documents:
        source = doc.metadata["source"]
        inside = source[len(prefix):]
        if not inside or PurePosixPath(inside).is_absolute() or ".." in PurePosixPath(inside).parts:
            continue  # for folder `.`: a source elsewhere
        if not chosen(inside, include, exclude) or any(p.startswith(".") for p in PurePosixPath(inside).parts):
            continue
        docs, hashes = found.setdefault(source, (set(), set()))
        docs.add(document_of(doc.id, doc.metadata))
        hashes.add(doc.metadata.get("sha256"))
    return found


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file's bytes, read in blocks."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


class Plan:
    """The files of one sync sorted into what happens to them, then written."""

    def __init__(self, folder: str, dry_run: bool = False):
        self.folder = folder
        self.dry_run = dry_run
        self.added: list[str] = []
        self.changed: list[str] = []
        self.unchanged: list[str] = []
        self.removed: list[str] = []
        self.skipped: list[Skipped] = []
        self.warnings: list[str] = []
        self.seen: set[str] = set()  # names of files present (skipped ones too: they keep their documents)
        self.to_write: list[Found] = []
        self.orphans: set[str] = set()  # documents a changed file no longer has
        self.written: set[str] = set()  # ids of the documents written

    def classify(self, path: Path, name: str, stored: dict) -> None:
        """Sort one file of the folder: skipped, emptied, unchanged, changed or new."""
        self.seen.add(name)
        if is_image_path(name):
            self.skipped.append(Skipped(name, "an image (sync reads text files; add images with embkit add)", IMAGE))
            return
        if is_audio_path(name):
            self.skipped.append(Skipped(name, "an audio file (sync reads text files; add sounds with embkit add)",
                                        AUDIO))
            return
        try:
            if not path.is_file():
                raise OSError(f"{name}: not a regular file")
            digest = file_sha256(path)
            empty = path.stat().st_size < 4096 and not path.read_bytes().strip()  # whitespace only
        except OSError as e:
            self.skipped.append(Skipped(name, f"{type(e).__name__}: {e.strerror or e}"))
            return
        if empty and name in stored:
            self.seen.discard(name)  # its documents go, as if the file were gone
            would = "would be " if self.dry_run else ""
            self.warnings.append(f"{name} is empty: its {len(stored[name][0])} document(s) {would}removed")
        elif empty:  # no documents, none stored: mirrored already (not an unreadable file, exit 3, every sync)
            self.unchanged.append(name)
        elif name in stored and stored[name][1] == {digest}:
            self.unchanged.append(name)
        else:
            self.to_write.append(Found(path, name, digest))
            (self.changed if name in stored else self.added).append(name)

    def write(self, col, files: list[Found], stored: dict, batch_size: int, locks: tuple[Lock, Lock]) -> None:
        """Read a batch of files as `embkit add` does and upsert their documents in one
        transaction."""
        batches = self.read(files, stored)
        if not batches:
            return
        docs = read_all(batches, [self.folder], [], validate.MAX_DOCUMENT_BYTES)
        with locks[0]():  # the model's name and the cache's fingerprint are read from the store
            prepared = split_documents(col.writing_model, docs, True, strict=True)
            vectors = col.embed_prepared(prepared, batch_size)
        with locks[1]():
            written = col.write_prepared(prepared, vectors, upsert=True)
        self.written.update(written.documents)
        self.warnings += written.warnings

    def read(self, files: list[Found], stored: dict) -> list:
        """The batches of files read as `embkit add` reads them, each record's metadata
        given the file's `sha256`; a file that cannot be read is skipped (and keeps its
        documents)."""
        batches = []
        for file in files:
            found = read_found(file.path, name=file.name)
            if isinstance(found, Skipped):
                self.skipped.append(found)
                (self.changed if file.name in stored else self.added).remove(file.name)
                continue
            for metadata in found.metadatas:
                metadata["sha256"] = file.sha256
            batches.append(found)
            old = stored.get(file.name, (set(), set()))[0]
            self.orphans |= old - {i for i in found.ids if i is not None}
        return batches

    def result(self, dry_run: bool = False, deleted: int = 0, embedded: int = 0, cached: int = 0) -> Synced:
        return Synced(self.folder, self.added, self.changed, self.unchanged, self.removed, self.skipped,
                      len(self.written), deleted, embedded, cached, dry_run, self.warnings)
