"""Where a collection's bytes go, for `info`: the store (documents, metadata, vectors),
the vector index, the keyword index (tables inside the store since schema 3) and the
caches (every other derived folder), plus `other` (what the collection keeps but did not
derive: uploaded images) so that the parts add up to the whole folder."""

from pathlib import Path

from ..store import DB_NAME, Store
from .compact import folder_bytes

CACHES = ("cache", "keyword", "analysis", "thumbnails")  # derived folders besides index/: rebuilt when missing
UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def sizes(store: Store, index_bytes: int) -> dict:
    """{"store", "vector_index", "keyword_index", "caches", "other", "total"} in bytes. A
    PostgreSQL collection: its tables (keyword ones apart) and `index_bytes` (pgvector's
    indexes), nothing on local disk."""
    keyword = int(store.keyword_stats().get("bytes") or 0)  # None: a SQLite built without dbstat
    if store.backend != "sqlite":
        tables = store.size_bytes()  # with their indexes: pgvector's and the keyword tables' among them
        parts = {"store": max(tables - keyword - index_bytes, 0), "vector_index": index_bytes,
                 "keyword_index": keyword, "caches": 0, "other": 0}
        return {**parts, "total": sum(parts.values())}
    root = Path(store.path)
    total = folder_bytes(root)
    database = sum(p.stat().st_size for p in root.glob(DB_NAME + "*") if p.is_file())
    keyword = min(keyword, database)  # pages counted by dbstat may still sit in the WAL
    vector_index = folder_bytes(root / "index")
    caches = sum(folder_bytes(root / name) for name in CACHES)
    parts = {"store": database - keyword, "vector_index": vector_index, "keyword_index": keyword, "caches": caches}
    return {**parts, "other": total - sum(parts.values()), "total": total}


def size_line(parts: dict) -> str:
    """`12.4 MiB (store 10.1 MiB, vector index 1.2 MiB, keyword index 1.0 MiB, caches 0 B)`."""
    shown = [f"{name.replace('_', ' ')} {human(parts[name])}" for name in ("store", "vector_index", "keyword_index",
                                                                          "caches")]
    if parts.get("other"):
        shown.append(f"other {human(parts['other'])}")
    return f"{human(parts['total'])} ({', '.join(shown)})"


def human(n: int | float) -> str:
    """Bytes in binary units, three significant figures: 812 B, 12.4 MiB, 1.07 GiB."""
    value, unit = float(n), 0
    while value >= 1024 and unit < len(UNITS) - 1:
        value, unit = value / 1024, unit + 1
    if unit == 0:
        return f"{int(value)} B"
    return f"{value:.3g} {UNITS[unit]}" if value < 1000 else f"{value:.0f} {UNITS[unit]}"
