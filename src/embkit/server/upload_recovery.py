"""What a server killed mid-upload left in its collections' upload folders (images/,
sounds/), settled as the next server starts, before it answers: the temp files of its
staged copies (uploads.sweep), and the copies a write was making when it died, named
by the note it left (uploads._note_landing); and the scratch folders of the files
route (ingest/uploads.py) in the system temp folder. A copy no document names is removed; one a
document names stays (the write committed before the kill, or another request found
the copy and stored a document naming it). Notes, temp files and scratch folders of
writers that still run (another worker's upload, or another container's server sharing
the folder, whatever its pid) are left alone: a writer holds each one's lock while it
works (ingest/held_files.py), and only those whose lock is free are removed."""

import contextlib
import logging
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

from ..audio_media import UPLOADS as AUDIO_UPLOADS
from ..image_documents import UPLOADS as IMAGE_UPLOADS
from ..ingest.held_files import unheld
from ..ingest.uploads import SCRATCH_MARKER, SCRATCH_PREFIX
from .uploads import LANDING_SUFFIX, folder_lock, sweep

log = logging.getLogger("embkit.server")
SCRATCH_NAME = re.compile(re.escape(SCRATCH_PREFIX) + r"\d+-[a-z0-9_]{8}")  # tempfile.mkdtemp's name
BATCH = 10_000  # records read at a time while looking for the paths that name copies


def recover_uploads(collections) -> None:
    """Every SQLite collection `collections` (hosting.Collections) serves: its upload
    folders' notes of dead writes settled (the collection opened only if it has one),
    then their temp files swept; and the files routes' scratch folders of dead servers."""
    _sweep_scratch()
    for folder in collections.folders():
        for name in (IMAGE_UPLOADS, AUDIO_UPLOADS):
            uploads = folder / name
            try:
                if _notes(uploads):  # else no lock file is made (a read-only collection stays untouched)
                    # the folder's lock first: notes are made under it, so one found now is either a
                    # live writer's, locked, or a dead one's (a note found between its creation and
                    # its lock, then waited on for the folder, deadlocked with its writer)
                    with folder_lock(uploads), contextlib.ExitStack() as taken:
                        notes = [note for note in _notes(uploads) if taken.enter_context(unheld(note))]
                        if notes:
                            _settle(collections.get(folder.name), uploads, notes)
                sweep(uploads)
            except Exception as e:  # one damaged collection must not keep the server from serving the others
                log.warning("%s: left-over uploads not settled (%s: %s)", uploads, type(e).__name__, e)


def _notes(uploads: Path) -> list[Path]:
    """The notes of writes in `uploads`, live or dead."""
    return list(uploads.glob("*" + LANDING_SUFFIX)) if uploads.is_dir() else []


def _sweep_scratch() -> None:
    """The system temp folder's embkit-upload-PID-XXXXXXXX folders (ingest/uploads.py) of
    this user that embkit made (its marker file inside) and whose server is gone (the
    marker's lock free), removed with the uploaded files in them. A folder without the
    marker is not one of embkit's, whatever its name: only an empty one of that exact form
    is removed (a server killed before it made the marker; nothing of anyone's is lost)."""
    with contextlib.suppress(OSError):
        for path in Path(tempfile.gettempdir()).glob(SCRATCH_PREFIX + "*"):
            marker = path / SCRATCH_MARKER
            with contextlib.suppress(OSError):
                if path.is_symlink() or not path.is_dir() or path.stat().st_uid != os.getuid():
                    continue
                if not marker.exists() and not marker.is_symlink():
                    if SCRATCH_NAME.fullmatch(path.name):
                        path.rmdir()  # only if empty
                elif stat.S_ISREG(marker.lstat().st_mode):
                    with unheld(marker) as free:
                        if free:
                            shutil.rmtree(path, ignore_errors=True)


def _settle(hosted, uploads: Path, notes: list[Path]) -> None:
    """Remove the copies `notes` name that no document names, then the notes; under the
    folder's lock (the caller's) and the collection's write lock, as a write keeps and drops copies."""
    names = list(dict.fromkeys(line for note in notes for line in note.read_text(encoding="utf-8").split()))
    with hosted.lock.writing():
        named = _named(hosted.collection, names)
        for name in names:
            if name not in named and Path(name).name == name:  # a bare file name, as notes hold
                (uploads / name).unlink(missing_ok=True)
        for note in notes:
            note.unlink(missing_ok=True)


def _named(collection, names: list[str]) -> set[str]:
    """Those of `names` (content-hash file names) that a document's `path` ends in: by
    name, as the collection finds its own copies wherever its folder now lies. One pass
    over the documents with a text `path`, their records read a batch at a time: a filter
    of one $contains per name tested every document per 500 names (17 s for 500 names in
    60,000 documents, holding the upload folder's lock while a server started)."""
    wanted = set(names)
    rowids = collection.row_ids(where={"path": {"$prefix": ""}})
    found = set()
    for start in range(0, len(rowids), BATCH):
        for record in collection.records_at(rowids[start:start + BATCH]).values():
            path = record.metadata.get("path") if record.metadata else None
            if isinstance(path, str) and Path(path).name in wanted:
                found.add(Path(path).name)
    return found
