"""Index files on disk: written atomically, stamped with the store generation they
reflect, checked when read. Anything missing, stale or unreadable is rebuilt from the
store by the caller, never trusted.

Layout of `DIR/index/`: `manifest.json` names the files of one saved state
(`faiss-G.bin`, `rowids-G.npy` as runs, `live-G.npy` as bits, for generation G; see
`idmap`) with their sizes and CRC32s. Data files are written first and the manifest
last, each by temp file, fsync and rename, so a crash leaves the old state or the new.
"""

import io
import json
import zlib
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from . import idmap
from .base import VectorIndex
from .spec import parse_spec

MANIFEST = "manifest.json"
FORMAT = 2  # 2: compact id map


class IndexUnreadable(Exception):
    """The saved index cannot be used (missing, truncated, corrupt, foreign)."""


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _crc(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def save(index: VectorIndex, folder: Path, generation: int, space: str) -> dict:
    """Write the index's state for `generation`; returns the manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"faiss": f"faiss-{generation}.bin", "rowids": f"rowids-{generation}.npy", "live": f"live-{generation}.npy"}
    atomic_write(folder / files["faiss"], index.write_faiss)
    atomic_write(folder / files["rowids"], lambda p: p.write_bytes(_npy(idmap.to_runs(index.rowids))))
    atomic_write(folder / files["live"], lambda p: p.write_bytes(_npy(idmap.pack_live(index.live))))
    manifest = {
        "format": FORMAT, "space": space, "spec": str(index.spec), "effective": index.effective_spec, "kind": index.kind,
        "params": index.params, "metric": index.metric, "dim": index.dim, "generation": generation,
        "count": index.ntotal, "dead": index.dead, "trained_on": index.trained_on,
        "files": {key: {"name": name, "bytes": (folder / name).stat().st_size, "crc32": _crc(folder / name)}
                  for key, name in files.items()},
    }
    atomic_write(folder / MANIFEST, lambda p: p.write_text(json.dumps(manifest, indent=1)))
    for stale in folder.iterdir():  # files of earlier states, and temp files a crash left
        if stale.name != MANIFEST and stale.name not in files.values():
            stale.unlink(missing_ok=True)
    return manifest


def read_manifest(folder: Path) -> dict | None:
    """The manifest, or None if there is none; IndexUnreadable if it is damaged."""
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
        if manifest.get("format") != FORMAT:
            raise IndexUnreadable(f"{path}: format {manifest.get('format')!r}, expected {FORMAT}")
        return manifest
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise IndexUnreadable(f"{path}: {e}") from None


def load(folder: Path, manifest: dict) -> VectorIndex:
    """The index a manifest describes, every file checked against its size and CRC32."""
    from . import BACKENDS

    try:
        for key, meta in manifest["files"].items():
            path = folder / meta["name"]
            if not path.exists() or path.stat().st_size != meta["bytes"] or _crc(path) != meta["crc32"]:
                raise IndexUnreadable(f"{path}: missing, truncated or changed since it was written")
        spec = parse_spec(manifest["spec"])
        index = BACKENDS[spec.kind](spec, manifest["dim"], manifest["metric"])
        index.params.update(manifest["params"])
        index.trained_on = manifest["trained_on"]
        index.rowids = idmap.from_runs(np.load(folder / manifest["files"]["rowids"]["name"]))
        index.live = idmap.unpack_live(np.load(folder / manifest["files"]["live"]["name"]), len(index.rowids))
        index.read_faiss(folder / manifest["files"]["faiss"]["name"])
        return index
    except IndexUnreadable:
        raise
    except Exception as e:  # whatever FAISS or numpy make of a damaged file
        raise IndexUnreadable(f"{folder}: {type(e).__name__}: {e}") from None
