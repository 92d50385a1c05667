"""The rows of recent hits, kept in memory while the database is unchanged: a warm plain
search whose hits were all returned before reads no SQLite row.

A plain search reads its hits' rows (id, text, metadata JSON) with the store's
generation and reembed map in one statement (~20-30 us of a ~130 us search at 384-d).
Rows read that way are kept here under the store's state taken just before the
statement (`store.state()`: the stamp meta_cache and filter_cache trust, equal when
nothing was written between, by this process or another; one PRAGMA data_version, ~5 us
alone, ~10-15 us right after a FAISS search has filled the CPU caches). A later
search at the same state takes its rows from here: nothing was written since, so they
are the rows the statement would read, the generation the one it would read (plain.py
checks its index against it as before), and the map the same. Any write, by this
process or another, changes the state and retires every kept row at once.

Bounded: at most MAX_ROWS rows and MAX_CHARS characters of ids, texts and metadata
(Python strings take at most 4 bytes a character: under ~25 MB with the rows' own
objects); past either bound the rows kept so far are dropped and keeping starts over.
A store without `state` (PostgreSQL: its plain search is one statement of its own) is
read as before."""

import weakref

MAX_ROWS = 16_384
MAX_CHARS = 4_000_000


class KeptRows(dict):
    """{row id: (id, text, metadata JSON)} read at one store state, metadata None for a
    row whose JSON is just its own id as parent (what a document without metadata of its
    own stores: hits_of_rows writes that dict out rather than decode it); read as
    `search_rows`' answer is (its `generation` and `superseded` as that state holds them)."""

    state: tuple | None = None
    generation: int | None = None
    superseded: dict[str, str] | None = None
    chars = 0


_EMPTY = KeptRows()
_KEPT: "weakref.WeakKeyDictionary[object, list[KeptRows]]" = weakref.WeakKeyDictionary()


def search_rows(store, rowids: list[int], generation: int):
    """`store.search_rows(rowids)` (a `SearchRows`), or kept rows holding every one of
    `rowids` (a `KeptRows`): those read earlier when the store is in the state they were
    read at and that state's generation is `generation` (the index's), else these just
    read. One stamp either way (a PRAGMA, ~3-5 us), taken before the statement: rows it
    reads after a write that moved the state are kept under the older stamp, which no
    later search sees again (states only move on); a search in flight that saw the older
    stamp is one the write raced, and those rows carry the generation the statement
    read, which its index's must equal."""
    state_of = getattr(store, "state", None)
    if state_of is None:
        return store.search_rows(rowids)
    holder = _KEPT.get(store)
    if holder is None:
        holder = _KEPT.setdefault(store, [_EMPTY])
    kept = holder[0]
    state = state_of()
    if state is not None and kept.state == state and kept.generation == generation:
        for row in rowids:
            if row not in kept:
                break
        else:
            return kept
    rows = store.search_rows(rowids)
    if state is None or getattr(rows, "generation", None) is None:
        return rows
    kept = _keep(holder, state, rows)
    return kept if kept is not None and len(rows) == len(rowids) else rows


def _keep(holder: list, state: tuple, rows) -> KeptRows | None:
    """Add `rows` (read at `state`) to the kept rows, which start over at a new state
    or past a bound; the KeptRows now holding them (None: not kept, past the bound).
    Threads may race here: each adds only rows read at the state of the dict it adds
    to, so the worst a race does is keep fewer."""
    kept = holder[0]
    chars = sum(len(row[0]) + len(row[1] or "") + len(row[2] or "") for row in rows.values())
    if kept.state != state or kept.generation != rows.generation or len(kept) + len(rows) > MAX_ROWS \
            or kept.chars + chars > MAX_CHARS:
        if len(rows) > MAX_ROWS or chars > MAX_CHARS:  # one search's rows past the bound: not kept
            return None
        kept = KeptRows()
        kept.state, kept.generation, kept.superseded = state, rows.generation, rows.superseded
        holder[0] = kept
    for rowid, (doc_id, text, raw) in rows.items():
        kept[rowid] = (doc_id, text, None if own_parent_only(doc_id, raw) else raw)
    kept.chars += chars
    return kept


def own_parent_only(doc_id: str, raw: str | None) -> bool:
    """Whether metadata JSON `raw` is just `doc_id` as its own parent, what a document
    without metadata of its own stores: that text recognized rather than decoded (an id
    with no character JSON escapes)."""
    return raw == f'{{"parent": "{doc_id}"}}' and '"' not in doc_id and "\\" not in doc_id


def forget(store) -> None:
    """Drop the rows kept for `store` (tests; a store closing needs nothing: weakly held)."""
    _KEPT.pop(store, None)
