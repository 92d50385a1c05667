"""The SQLite schema of a collection, and its version."""

SCHEMA_VERSION = 1
DB_NAME = "embkit.db"

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
    """CREATE TABLE vectors (
        space TEXT NOT NULL REFERENCES spaces(name),
        doc INTEGER NOT NULL REFERENCES docs(rowid) ON DELETE CASCADE,
        vector BLOB NOT NULL,
        PRIMARY KEY (space, doc)
    ) WITHOUT ROWID""",
    # Which rows each generation touched, so an index can catch up instead of rebuilding.
    """CREATE TABLE changes (
        generation INTEGER NOT NULL,
        doc INTEGER NOT NULL,
        PRIMARY KEY (generation, doc)
    ) WITHOUT ROWID""",
]
