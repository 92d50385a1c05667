"""Where a collection's bytes go, per document: each SQLite table and index of embkit.db
(SQLite's dbstat: pages, payload, unused), its free pages, and every other file.

    python benchmarks/disk_split.py DIR N      N: the documents the collection holds
"""

import sqlite3
import sys
from pathlib import Path


def main(path: Path, n: int) -> None:
    db = sqlite3.connect(f"file:{path / 'embkit.db'}?mode=ro", uri=True)
    page = db.execute("PRAGMA page_size").fetchone()[0]
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    free = db.execute("PRAGMA freelist_count").fetchone()[0]
    print(f"page {page}, embkit.db {pages * page / n:.1f} B/doc, free pages {free * page / n:.1f} B/doc")
    rows = db.execute("SELECT name, count(*), sum(pgsize), sum(payload), sum(unused) FROM dbstat "
                      "GROUP BY name ORDER BY sum(pgsize) DESC").fetchall()
    for name, count, size, payload, unused in rows:
        print(f"  {name:32s} {size / n:8.1f} B/doc  payload {payload / n:8.1f}  unused {unused / n:6.1f}  "
              f"pages {count}")
    db.close()
    files = [f for f in sorted(path.rglob("*")) if f.is_file()]
    for f in files:
        if f.name != "embkit.db":
            print(f"  file {str(f.relative_to(path)):27s} {f.stat().st_blocks * 512 / n:8.1f} B/doc")
    print(f"total {sum(f.stat().st_blocks * 512 for f in files) / n:.1f} B/doc")


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
