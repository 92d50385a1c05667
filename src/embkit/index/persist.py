"""Index files on disk: written atomically, stamped with the store generation they
reflect, checked when read. Anything missing, stale or unreadable is rebuilt from the
store by the caller, never trusted.

Layout of `DIR/index/`: `manifest.json` names the files of one saved state
(`faiss-G.bin`, `rowids-G.npy` as runs, `live-G.npy` as bits, for generation G; see
`idmap`) with their sizes and CRC32s. An HNSW or IVF index saved for a store
(`vectors`: "store") leaves its float32 vectors out of `faiss-G.bin`, the store holds
them, and keeps what the store cannot give back beside it (HNSW: its dead entries'
vectors, `dead-G.npy`; IVF: its lists' layout, `lists-G.npy`); loading refills them
(hnsw_storage, ivf_storage).
Data files are written first and the manifest last, each by temp file, fsync and
rename, so a crash leaves the old state or the new.
The manifest records the collection's identity: a copy from another collection is
rebuilt. Several processes may save: they take turns under the folder's lock (see
cache_files), and loads read under a shared lock.
"""

import json
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from . import idmap
from .cache_files import (
    IDENTITY,
    LOCK,
    IndexUnreadable,
    check_identity,
    crc,
    locked,
    make_folder,
    newer_saved,
    npy,
    prune,
)
from .faiss_base import FaissIndex
from .spec import parse_spec

MANIFEST = "manifest.json"
FORMAT = 3  # 2: compact id map; 3: "vectors" says where the float32 vectors are
READABLE = (2, 3)  # a format 2 state is read as it is (its vectors are in its file)
VECTORS_IN_STORE = "store"

__all__ = ["MANIFEST", "FORMAT", "LOCK", "IndexUnreadable", "save", "read_manifest", "load", "load_current"]
LOAD_ATTEMPTS = 3


def save(index: FaissIndex, folder: Path, generation: int, space: str, identity: str | None = None,
         newest: int | None = None, vectors_in_store: bool = False) -> dict | None:
    """Write the index's state for `generation`, stamped with the collection's
    `identity`; returns the manifest. Processes take turns (the folder's lock). Given
    the store's `newest` generation, a state older than the saved one (which another
    process wrote, at most `newest`) is not written, and None is returned. With
    `vectors_in_store` (the store holds the vectors it was built from), a kind that can
    (HNSW) leaves its live vectors out: loading it then needs the store."""
    make_folder(folder, levels=2)  # index/ and index/SPACE: a stray file in their place is replaced
    with locked(folder, exclusive=True):
        if newest is not None and _newer_saved(folder, generation, identity, newest):
            return None
        apart = vectors_in_store and index.vectors_apart
        files = {"faiss": f"faiss-{generation}.bin", "rowids": f"rowids-{generation}.npy",
                 "live": f"live-{generation}.npy"}
        writers = {"faiss": index.write_without_vectors if apart else index.write_faiss,
                   "rowids": lambda p: p.write_bytes(npy(idmap.to_runs(index.rowids))),
                   "live": lambda p: p.write_bytes(npy(idmap.pack_live(index.live)))}
        if apart:  # what the store cannot give back: HNSW's dead vectors, IVF's list layout
            files[index.apart_file] = f"{index.apart_file}-{generation}.npy"
            writers[index.apart_file] = lambda p: p.write_bytes(npy(index.kept_apart()))
        written = []
        try:
            for key, write in writers.items():
                atomic_write(folder / files[key], write)
                written.append(folder / files[key])
        except OSError:  # a full disk: what this save wrote goes too, the manifest still names the old state
            for path in written:
                path.unlink(missing_ok=True)
            raise
        manifest = {
            "format": FORMAT, "space": space, IDENTITY: identity, "spec": str(index.spec),
            "effective": index.effective_spec, "kind": index.kind, "params": index.params, "metric": index.metric,
            "dim": index.dim, "generation": generation, "count": index.ntotal, "dead": index.dead,
            "trained_on": index.trained_on, "vectors": VECTORS_IN_STORE if apart else "file",
            "files": {key: {"name": name, "bytes": (folder / name).stat().st_size, "crc32": crc(folder / name)}
                      for key, name in files.items()},
        }
        atomic_write(folder / MANIFEST, lambda p: p.write_text(json.dumps(manifest, indent=1)))
        prune(folder, {MANIFEST, *files.values()})  # earlier states, and temp files a crash left
    return manifest


def _newer_saved(folder: Path, generation: int, identity: str | None, newest: int) -> bool:
    """True if the folder already holds a sound state of this collection newer than
    `generation` (another process saved it): overwriting it would only lose ground.
    One ahead of the store's `newest` generation is not sound (a store rolled back)."""
    try:
        return newer_saved(read_manifest(folder), generation, identity, newest)
    except IndexUnreadable:
        return False


def read_manifest(folder: Path) -> dict | None:
    """The manifest, or None if there is none; IndexUnreadable if it is damaged."""
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
        if not isinstance(manifest, dict):
            raise ValueError("not an embkit index manifest")
        if manifest.get("format") not in READABLE:
            raise IndexUnreadable(f"{path}: format {manifest.get('format')!r}, expected {FORMAT}")
        return manifest
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise IndexUnreadable(f"{path}: {e}") from None


def load_current(folder: Path, space, identity: str | None, newest: int | None = None,
                 store=None) -> tuple[FaissIndex, dict] | None:
    """(index, manifest) of the state saved for `space` (name, dim, metric) of the
    collection `identity`, or None if none is saved; IndexUnreadable if it cannot be
    used, or (given the store's `newest` generation) is ahead of the store. `store`
    gives back the vectors a state saved without them needs. Reads under
    the folder's shared lock, so no save prunes files meanwhile; if a state is replaced
    while being read all the same (no lock to be had), reads again."""
    attempts = LOAD_ATTEMPTS
    while True:
        attempts -= 1
        with locked(folder, exclusive=False):
            manifest = read_manifest(folder)
            if manifest is None:
                return None
            if (manifest.get("dim"), manifest.get("metric"), manifest.get("space")) != (space.dim, space.metric,
                                                                                          space.name):
                raise IndexUnreadable("it was built for another space, dimension or metric")
            check_identity(manifest, identity)
            saved = manifest.get("generation")
            if newest is not None and store is not None and isinstance(saved, int) and saved > newest:
                newest = max(newest, store.generation)  # saved after a write that came after `newest` was read
            if newest is not None and not (isinstance(saved, int) and saved <= newest):
                raise IndexUnreadable(f"it is of generation {saved!r}, ahead of the store's {newest}")
            try:
                return load(folder, manifest, store), manifest
            except IndexUnreadable:
                if attempts == 0 or read_manifest(folder) == manifest:
                    raise  # damaged, not replaced


def load(folder: Path, manifest: dict, store=None) -> FaissIndex:
    """The index a manifest describes, every file checked against its size and CRC32;
    a state saved without its vectors gets them from `store` (IndexUnreadable without)."""
    from . import BACKENDS

    try:
        for meta in manifest["files"].values():
            path = folder / meta["name"]
            if not path.exists() or path.stat().st_size != meta["bytes"] or crc(path) != meta["crc32"]:
                raise IndexUnreadable(f"{path}: missing, truncated or changed since it was written")
        spec = parse_spec(manifest["spec"])
        index = BACKENDS[spec.kind](spec, manifest["dim"], manifest["metric"])
        index.params.update(manifest["params"])
        index.trained_on = manifest["trained_on"]
        index.rowids = idmap.from_runs(np.load(folder / manifest["files"]["rowids"]["name"]))
        index.live = idmap.unpack_live(np.load(folder / manifest["files"]["live"]["name"]), len(index.rowids))
        if manifest.get("vectors") == VECTORS_IN_STORE and (store is None or not index.vectors_apart):
            raise IndexUnreadable(f"{folder}: its vectors are in the store, and no store was given to read them")
        index.read_faiss(folder / manifest["files"]["faiss"]["name"])
        if manifest.get("vectors") == VECTORS_IN_STORE:
            kept = np.load(folder / manifest["files"][index.apart_file]["name"])
            index.refill(kept, store, manifest["space"], manifest["generation"])
        return index
    except IndexUnreadable:
        raise
    except Exception as e:  # whatever FAISS or numpy make of a damaged file
        raise IndexUnreadable(f"{folder}: {type(e).__name__}: {e}") from None
