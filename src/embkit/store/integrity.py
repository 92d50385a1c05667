"""What a store's own structure says about its health, for `embkit check`: SQLite's
integrity and foreign-key checks, read without changing anything."""

import sqlite3
from pathlib import Path

MAX_PROBLEMS = 10  # the first few say enough; a badly damaged file has thousands


def sqlite_problems(conn: sqlite3.Connection, limit: int = MAX_PROBLEMS) -> list[str]:
    """The problems SQLite finds in an open database (empty: healthy). A file too
    damaged to check at all is one problem: the error SQLite gives."""
    try:
        problems = [r[0] for r in conn.execute(f"PRAGMA integrity_check({int(limit)})") if r[0] != "ok"]
        for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check").fetchmany(limit):
            problems.append(f"{table} row {rowid} refers to a missing row of {parent}")
        row = conn.execute("SELECT (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'generation'), "
                           "(SELECT max(generation) FROM changes)").fetchone()
        if row[0] is None:
            problems.append("meta: no generation recorded")
        elif row[1] is not None and row[1] > row[0]:
            problems.append(f"changes: logged generation {row[1]} is ahead of the store's {row[0]}")
    except sqlite3.DatabaseError as e:
        problems = [f"{type(e).__name__}: {e}"]
    return problems[:limit]


def sqlite_file_problems(db: Path, limit: int = MAX_PROBLEMS) -> list[str]:
    """`sqlite_problems` of a database file that embkit could not open, read-only."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.Error as e:
        return [f"{type(e).__name__}: {e}"]
    try:
        return sqlite_problems(conn, limit)
    finally:
        conn.close()
