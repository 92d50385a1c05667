"""Upgrading a PostgreSQL collection written by an older embkit to SCHEMA_VERSION, in
one transaction: a failure (or a kill) leaves the old schema, a second process opening
it at the same time waits for the first and finds it done.

Versions 1 and 2 have the same PostgreSQL tables (1 -> 2 changed only SQLite's vector
table); 3 adds the keyword index (pg_keyword.py), built from the documents' text, and
the bm25s files the collection kept in its local cache folder go."""

import shutil

from .schema import SCHEMA_VERSION


def _keyword_tables(store, c) -> None:
    store._create_keyword(c)
    store._keyword_fill(c)


MIGRATIONS = {2: _keyword_tables}  # version -> the step to version + 1


def migrate(store) -> None:
    """Bring `store` (opened at an older version) up to SCHEMA_VERSION."""
    q = store.statement
    with store.transaction() as c:
        row = c.execute(q("SELECT value FROM {s}.meta WHERE key = 'schema_version' FOR UPDATE")).fetchone()
        store._lock_writers(c)  # no write lands between the text read here and the commit
        version = int(row[0])
        while version < SCHEMA_VERSION:
            step = MIGRATIONS.get(version)
            if step is not None:
                step(store, c)
            version += 1
        c.execute(q("UPDATE {s}.meta SET value = %s WHERE key = 'schema_version'"), (str(SCHEMA_VERSION),))
    shutil.rmtree(store.path / "keyword", ignore_errors=True)  # version 2's bm25s cache
