"""`embkit check`: verify a collection, and with `repair` rebuild what is derived.

The store is the source of truth and is only read here: a damaged store is reported
with what the user can do (restore a snapshot, re-add documents). Derived files (vector
indexes, the keyword index) that are damaged, foreign or disagree with the store are
rebuilt from it by `repair`, and everything is checked again after.
"""

from pathlib import Path
from typing import Callable

import numpy as np

from ..search.keyword import KeywordIndex
from ..store import DB_NAME, Store
from . import index_checks, store_checks
from .report import Check, Fix, Report

RUNS = 3  # a writer in another process may move the store during a run: run again, as a search would


def check(store: Store, indexes: dict, keyword: KeywordIndex, repair: bool = False) -> Report:
    """Every check of the collection `store` holds; `indexes` maps each space's name to
    its index manager. With `repair`, failed derived checks are fixed and all run again."""
    checks, fixes = _settled(store, indexes, keyword)
    failed = [c.name for c in checks if not c.ok and fixes.get(c.name) is not None]
    if not repair or not failed:
        return Report(checks)
    errors = {}
    for name in failed:
        try:
            fixes[name]()
        except Exception as e:  # said on that check's line, even if clearing the damage made it pass
            errors[name] = f"{type(e).__name__}: {e}"
    checks, _ = _settled(store, indexes, keyword)
    checks = [c._replace(detail=f"{c.detail} (repair failed: {errors[c.name]})") if c.name in errors else c
              for c in checks]
    return Report(checks, [name for name in failed if name not in errors])


def check_unopenable(path: Path, error: str) -> Report:
    """The report for a SQLite collection that does not open: why, and what SQLite's
    own check of the file finds."""
    db = Path(path) / DB_NAME
    checks = [Check("open", False, f"{error}; {store_checks.advice('sqlite')}")]
    if db.is_file():
        checks.append(_guarded("integrity", lambda: store_checks.file_integrity(db)))
    return Report(checks)


def _settled(store: Store, indexes: dict, keyword: KeywordIndex) -> tuple[list[Check], dict[str, Fix]]:
    """`_run` until the store's generation stays put across one (reads are not one
    transaction: rows written meanwhile could look like a disagreement)."""
    for _ in range(RUNS):
        before = _generation(store)
        checks, fixes = _run(store, indexes, keyword)
        if before is None or _generation(store) == before:
            break
    return checks, fixes


def _generation(store: Store) -> int | None:
    try:
        return store.generation
    except Exception:  # a damaged store: the checks say so
        return None


def _run(store: Store, indexes: dict, keyword: KeywordIndex) -> tuple[list[Check], dict[str, Fix]]:
    checks = [_guarded("schema", lambda: store_checks.schema(store)),
              _guarded("integrity", lambda: store_checks.integrity(store))]
    fixes: dict[str, Fix] = {}
    spaces, stored = store.spaces(), {}
    for name, space in spaces.items():
        try:
            check, stored[name] = store_checks.vectors(store, space)
        except Exception as e:  # a damaged file can fail any read: report it, check the rest
            check, stored[name] = _crashed(f"vectors:{name}", e), None
        checks.append(check)
    if all(rows is not None for rows in stored.values()):
        every = np.unique(np.concatenate([np.zeros(0, np.int64), *stored.values()]))
        checks.append(_guarded("documents", lambda: store_checks.documents(store, every)))
    for name, manager in indexes.items():
        _add(checks, fixes, f"index:{name}",
             lambda name=name, manager=manager: index_checks.vector_index(store, spaces[name], manager,
                                                                          stored.get(name)))
    _add(checks, fixes, "keyword index", lambda: [index_checks.keyword_index(store, keyword)])
    return checks, fixes


def _add(checks: list[Check], fixes: dict[str, Fix], name: str, run: Callable) -> None:
    try:
        for check, fix in run():
            checks.append(check)
            fixes[check.name] = fix
    except Exception as e:
        checks.append(_crashed(name, e, derived=True))


def _guarded(name: str, run: Callable[[], Check]) -> Check:
    try:
        return run()
    except Exception as e:
        return _crashed(name, e)


def _crashed(name: str, error: Exception, derived: bool = False) -> Check:
    return Check(name, False, f"could not be checked: {type(error).__name__}: {error}", derived)
