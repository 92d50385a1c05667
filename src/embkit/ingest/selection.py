"""Which files of a folder to take: `--include` / `--exclude` glob patterns.

A pattern matches a file found in a folder when it matches (fnmatch, case-sensitive)
the file's path relative to the folder given (`guide/setup.md`, with `/`), or any one
name on that path: the file's name or a folder's. So `*.md` takes markdown anywhere,
`changelog*` drops `changelog.md` and everything under a folder `changelog/`, and
`guide/*` or `docs/**/*.md` match by path (`*` crosses `/`; `**/` may also match no
folder at all). With includes, a file must match one of them; a file matching an
exclude is dropped either way. Files named explicitly are always taken."""

from fnmatch import fnmatchcase
from pathlib import PurePosixPath
from typing import Sequence

from ..errors import EmbkitError

MAX_PATTERNS = 256
MAX_PATTERN_CHARS = 1024


def check_patterns(patterns: Sequence[str] | str | None, field: str) -> tuple[str, ...]:
    """The patterns as a tuple; a bad one fails naming the field and the limit."""
    if patterns is None:
        return ()
    if isinstance(patterns, str):  # a lone pattern, not its characters
        patterns = [patterns]
    patterns = tuple(patterns)
    if len(patterns) > MAX_PATTERNS:
        raise EmbkitError(f"{field}: at most {MAX_PATTERNS} patterns, got {len(patterns)}")
    for p in patterns:
        if not isinstance(p, str) or not p.strip():
            raise EmbkitError(f"{field}: a pattern must be a non-empty string, got {p!r}")
        if len(p) > MAX_PATTERN_CHARS:
            raise EmbkitError(f"{field}: a pattern is at most {MAX_PATTERN_CHARS} characters, got {len(p)}")
    return patterns


def _matches(relative: str, pattern: str) -> bool:
    candidates = {pattern, pattern.replace("**/", "")}  # `a/**/b` also matches `a/b`
    parts = PurePosixPath(relative).parts
    return any(fnmatchcase(relative, p) or any(fnmatchcase(part, p) for part in parts) for p in candidates)


def chosen(relative: str, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> bool:
    """Whether a file at `relative` (its path inside the folder, with `/`) is taken."""
    if include and not any(_matches(relative, p) for p in include):
        return False
    return not any(_matches(relative, p) for p in exclude)
