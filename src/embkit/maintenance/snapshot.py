"""Snapshots of a SQLite collection, taken while writers keep writing, and their restore.

The database is copied by SQLite's online backup API in one step: one read transaction,
so the copy holds exactly the batches committed when it began (WAL mode: writers are not
blocked). Derived files are caches stamped with the store generation they reflect; a
cache is copied only when it is of the snapshot's generation and every file matches its
manifest after the copy (a save may run meanwhile), else left out and rebuilt on open.
Uploaded images (content-addressed, written before their batch commits) are copied as
found; thumbnails too, less those of documents a later write changed. `snapshot.json`
says what was copied and what will be rebuilt.

Layout of OUT: a collection folder (`embkit.db`, caches) plus `snapshot.json`. Both
OUT and a restored folder are made in a temp folder beside them and renamed into place.
"""

import datetime
import json
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..atomic import fsync_path
from ..errors import EmbkitError
from ..index.cache_files import crc
from ..ingest.image_files import thumbnail_path
from ..store.pg_connection import PgUrl, is_url
from ..store.read_only import connect_read_only, unwritable_reason
from ..store.schema import DB_NAME, SCHEMA_VERSION

MANIFEST = "snapshot.json"
FORMAT = 1
CACHES = ("index",)  # stamped with a generation: copied only when of the snapshot's
AS_FOUND = ("images", "analysis")  # uploaded originals; cluster descriptions and projections
THUMBNAILS = "thumbnails"
CACHE_MANIFEST = "manifest.json"


def snapshot(source: str | Path, out: str | Path) -> dict:
    """A consistent copy of the collection folder `source` in the new folder `out`
    (which must not exist or be empty); returns the manifest written as snapshot.json.
    A PostgreSQL collection URL is refused with the pg_dump commands that copy it."""
    if is_url(source):
        raise EmbkitError(f"path: a PostgreSQL collection is snapshot with pg_dump: {pg_commands(PgUrl(source))}")
    source, out = Path(source), Path(out)
    if not (source / DB_NAME).is_file():
        raise EmbkitError(f"path: {source} is not an embkit collection (no {DB_NAME})")
    _refuse_nonempty(out, "out", force=False)

    def fill(tmp: Path) -> dict:
        generation, schema = _backup(source / DB_NAME, tmp / DB_NAME)  # first: the files follow the database
        copied, rebuilt = _copy_derived(source, tmp, generation)
        manifest = {"format": FORMAT, "source": str(source.resolve()), "backend": "sqlite",
                    "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                    "generation": generation, "schema_version": schema, "copied": [DB_NAME, *copied],
                    "rebuilt_on_open": rebuilt}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
        return manifest

    return _build_beside(out, fill)


def read_manifest(snapshot_dir: str | Path) -> dict:
    """The snapshot.json of a snapshot folder; a clear error for anything else."""
    path = Path(snapshot_dir) / MANIFEST
    if not Path(snapshot_dir).is_dir() or not path.is_file() or not (Path(snapshot_dir) / DB_NAME).is_file():
        raise EmbkitError(f"snapshot: {snapshot_dir} is not an embkit snapshot (no {MANIFEST} and {DB_NAME})")
    try:
        manifest = json.loads(path.read_text())
        if manifest.get("format") != FORMAT:
            raise ValueError(f"format {manifest.get('format')!r}, expected {FORMAT}")
        return manifest
    except (ValueError, UnicodeDecodeError, AttributeError) as e:
        raise EmbkitError(f"snapshot: {path} is unreadable ({e})") from None


def restore(snapshot_dir: str | Path, path: str | Path, force: bool = False) -> dict:
    """Make folder `path` the collection saved in `snapshot_dir`: refused if `path` holds
    anything unless `force`; checked first (integrity, schema version); written beside
    `path` and renamed into place, so `path` is the old folder or the whole new one."""
    snapshot_dir, path = Path(snapshot_dir), Path(path)
    manifest = read_manifest(snapshot_dir)
    _refuse_nonempty(path, "path", force)
    _check_db(snapshot_dir / DB_NAME)

    def fill(tmp: Path) -> dict:
        for entry in snapshot_dir.iterdir():
            if entry.name == MANIFEST:
                continue
            if entry.is_dir():
                shutil.copytree(entry, tmp / entry.name)
            else:
                shutil.copy2(entry, tmp / entry.name)
        return manifest

    return _build_beside(path, fill)


def _build_beside(target: Path, fill) -> dict:
    """`fill(tmp)` a temp folder beside `target`, flush it, then swap it into place, so
    `target` is the old folder or the whole new one; a failure leaves no temp folder."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        result = fill(tmp)
        _fsync_tree(tmp)
        _replace(tmp, target)
        return result
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ---- the database ------------------------------------------------------------------

def _backup(db: Path, dest: Path) -> tuple[int, int]:
    """Copy `db` with the online backup API; (generation, schema version) of the copy."""
    src = _open_source(db)
    dst = sqlite3.connect(dest)
    try:
        src.backup(dst)  # pages=-1: the whole database in one step, i.e. in one read transaction
        meta = dict(dst.execute("SELECT key, value FROM meta").fetchall())
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file; opening sets WAL again
    except sqlite3.DatabaseError as e:
        raise EmbkitError(f"path: could not copy {db} ({e})") from None
    finally:
        dst.close()
        src.close()
    return int(meta["generation"]), int(meta["schema_version"])


def _open_source(db: Path) -> sqlite3.Connection:
    """The source database, read without writing beside it where that is not allowed
    (a read-only mount: an archived collection is snapshot too)."""
    return connect_read_only(db) if unwritable_reason(db) else sqlite3.connect(db, timeout=30)


def _check_db(db: Path) -> None:
    """Refuse a damaged snapshot or one of a newer schema before touching the target."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
            version = int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
        finally:
            conn.close()
    except (sqlite3.DatabaseError, TypeError, ValueError) as e:
        raise EmbkitError(f"snapshot: {db} is not a readable embkit database ({e})") from None
    if result != "ok":
        raise EmbkitError(f"snapshot: {db} fails SQLite's integrity check ({result})")
    if version > SCHEMA_VERSION:
        raise EmbkitError(f"schema_version: the snapshot has schema version {version}, newer than this embkit "
                          f"supports ({SCHEMA_VERSION}); upgrade embkit")


# ---- derived files -------------------------------------------------------------------

def _copy_derived(source: Path, out: Path, generation: int) -> tuple[list[str], dict[str, str]]:
    """Copy what lives beside the database: (what was copied, {what was left out: why})."""
    copied, rebuilt = [], {}
    for name in CACHES:
        for folder in _cache_folders(source / name):
            rel = folder.relative_to(source).as_posix()
            reason = _copy_cache(folder, out / rel, generation)
            if reason is None:
                copied.append(rel)
            else:
                rebuilt[rel] = reason
    for name in AS_FOUND:
        if _copy_tree(source / name, out / name):
            copied.append(name)
    if _copy_tree(source / THUMBNAILS, out / THUMBNAILS):
        copied.append(THUMBNAILS)
        note = _drop_changed_thumbnails(source / DB_NAME, out, generation)
        if note:
            rebuilt[THUMBNAILS] = note
    return copied, rebuilt


def _cache_folders(root: Path) -> list[Path]:
    """`root` and its subfolders that hold a cache manifest (index/<space>)."""
    if not root.is_dir():
        return []
    return sorted(p.parent for p in [root / CACHE_MANIFEST, *root.glob(f"*/{CACHE_MANIFEST}")] if p.is_file())


def _copy_cache(folder: Path, dest: Path, generation: int) -> str | None:
    """Copy one cache if it is of `generation` and whole; else None copied and the reason."""
    try:
        raw = (folder / CACHE_MANIFEST).read_bytes()
        manifest = json.loads(raw)
        if manifest.get("generation") != generation:
            return f"of generation {manifest.get('generation')}, not the snapshot's {generation}"
        names = [meta.get("name", key) for key, meta in manifest["files"].items()]
        for name in names:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / name, dest / name)
        for key, meta in manifest["files"].items():  # a concurrent save may have replaced a file
            copy = dest / meta.get("name", key)
            if copy.stat().st_size != meta["bytes"] or crc(copy) != meta["crc32"]:
                raise ValueError(f"{copy.name} changed while it was copied")
        (dest / CACHE_MANIFEST).write_bytes(raw)
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        shutil.rmtree(dest, ignore_errors=True)
        return f"not copied whole ({type(e).__name__}: {e})"


def _copy_tree(folder: Path, dest: Path) -> bool:
    """Copy the files under `folder` (temp files and files that vanish meanwhile left out)."""
    if not folder.is_dir():
        return False
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.endswith(".tmp"):
            target = dest / path.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(path, target)
            except FileNotFoundError:
                pass
    return True


def _drop_changed_thumbnails(db: Path, out: Path, generation: int) -> str | None:
    """Keep in the copy only the thumbnails of the snapshot's documents that no later
    write changed (a thumbnail is written after its batch commits, so the log is read
    after copying); none if the change log no longer reaches back. A note if any went."""
    src = _open_source(db)
    try:
        src.execute("BEGIN")
        changes_from = int(src.execute("SELECT value FROM meta WHERE key = 'changes_from'").fetchone()[0])
        changed = {r[0] for r in src.execute("SELECT DISTINCT doc FROM changes WHERE generation > ?", (generation,))}
        src.execute("COMMIT")
    finally:
        src.close()
    snap = sqlite3.connect(out / DB_NAME)
    try:
        docs = snap.execute("SELECT rowid, id FROM docs").fetchall()
    finally:
        snap.close()
    folder = out / THUMBNAILS
    keep = set() if changes_from > generation else \
        {thumbnail_path(folder, doc_id).name for rowid, doc_id in docs if rowid not in changed}
    dropped = [p for p in folder.iterdir() if p.name not in keep]
    for path in dropped:
        path.unlink()
    if dropped:
        return f"{len(dropped)} thumbnails of documents changed after the snapshot, or not in it, are made again on use"
    return None


# ---- files and folders -----------------------------------------------------------------

def _refuse_nonempty(path: Path, field: str, force: bool) -> None:
    if path.exists() and not path.is_dir():
        raise EmbkitError(f"{field}: {path} exists and is not a folder")
    if not force and path.is_dir() and any(path.iterdir()):
        flag = "--force" if field == "path" else "another folder"
        raise EmbkitError(f"{field}: {path} is not empty; refusing to overwrite it (give {flag})")


def _replace(tmp: Path, target: Path) -> None:
    """Rename the finished folder `tmp` to `target`: over an empty or missing folder in
    one rename; over a full one by an atomic exchange where Linux offers it."""
    if not target.exists() or not any(target.iterdir()):
        os.replace(tmp, target)
    elif _exchange(tmp, target):
        shutil.rmtree(tmp)  # now holds the old contents
    else:
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old)
    fsync_path(target.parent)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def _fsync_tree(root: Path) -> None:
    for path in [*root.rglob("*"), root]:
        fsync_path(path)



def pg_commands(target) -> str:
    """The commands that snapshot and restore the PostgreSQL collection `target` (a
    PgUrl): pg_dump of its schema (`embkit_NAME`: every table of the collection) in one
    consistent transaction, and pg_restore into a database with the pgvector extension.
    The server URL is shown without its password (pg_dump reads PGPASSWORD)."""
    server = urlunsplit(urlsplit(target.public())._replace(query=""))
    return (f"pg_dump --format=custom --schema='\"{target.schema}\"' --file=OUT.dump '{server}'; restore with "
            f"psql DB_URL -c 'CREATE EXTENSION IF NOT EXISTS vector' && pg_restore --dbname=DB_URL OUT.dump "
            f"(DB_URL: a database without that schema), then open DB_URL?collection={target.name}")
