"""The SQLite schema of a collection, and its version."""

SCHEMA_VERSION = 3
DB_NAME = "embkit.db"
IDENTITY_KEY = "identity"  # meta key: the collection's UUID, which its derived files record

# An ordinary rowid table since version 2 (version 1 was WITHOUT ROWID): a rowid table keeps
# a 1,536-byte 384-d vector in its leaf page, where a WITHOUT ROWID row spills into an overflow
# page of its own (measured: 4,716 bytes per vector on disk, against 2,105).
# UNIQUE (doc, space), doc first: INSERT OR REPLACE still replaces a (space, doc) pair, and
# ON DELETE CASCADE finds a doc's vectors through the index instead of scanning the table.
# Named: the migration from version 1 creates exactly this table.
VECTORS_V2 = """CREATE TABLE vectors (
        space TEXT NOT NULL REFERENCES spaces(name),
        doc INTEGER NOT NULL REFERENCES docs(rowid) ON DELETE CASCADE,
        vector BLOB NOT NULL,
        UNIQUE (doc, space)
    )"""

# Row ids come from AUTOINCREMENT so they are never reused: indexes key on them.
# `generation` counts changes to vectors or text; indexes record the one they reflect.
# `changes_from` (in meta) is the oldest generation the change log still answers for.
STATEMENTS = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE spaces (
        name TEXT PRIMARY KEY,
        model TEXT NOT NULL,
        dim INTEGER NOT NULL CHECK (dim > 0),
        metric TEXT NOT NULL CHECK (metric IN ('cosine', 'dot', 'l2')),
        normalized INTEGER NOT NULL
    )""",
    """CREATE TABLE docs (
        rowid INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        text TEXT,
        metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata))
    )""",
    VECTORS_V2,
    # Which rows each generation touched, so an index can catch up instead of rebuilding.
    """CREATE TABLE changes (
        generation INTEGER NOT NULL,
        doc INTEGER NOT NULL,
        PRIMARY KEY (generation, doc)
    ) WITHOUT ROWID""",
]
