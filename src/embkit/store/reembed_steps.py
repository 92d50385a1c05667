"""The steps of a re-embedding that both stores take alike (sqlite_reembed.py and
postgres_reembed.py supply only their SQL): the bookkeeping in `meta` and the final switch.

Bookkeeping is JSON in `meta`: `reembeds` {source space: space being built},
`space_aliases` {name users give: space it means}, `superseded` {old space: the space
that replaced it}. A write reads the first and last (see `follower_of`): a document
written into a space being re-embedded loses its new-space vector (so it is embedded
again), and a superseded space takes no more writes.
"""

from typing import Callable, Sequence

import numpy as np

from ..errors import EmbkitError

REEMBEDS, ALIASES, SUPERSEDED = "reembeds", "space_aliases", "superseded"
Rows = Sequence[tuple[int, str | None]]  # (row id, text) of documents to embed


class SpaceBook:
    """The bookkeeping, inside one transaction: `read(key)` gives a meta JSON object
    ({} when absent), `write(key, value)` stores one (an empty one is deleted)."""

    def __init__(self, read: Callable[[str], dict], write: Callable[[str, dict], None]):
        self.read, self.write = read, write

    def follower_of(self, space: str) -> str | None:
        """The space being built from `space` (or None); refuses a write into a space
        that another one replaced."""
        replaced_by = self.read(SUPERSEDED).get(space)
        if replaced_by is not None:
            raise EmbkitError(
                f"space: {space!r} was re-embedded into {replaced_by!r} and takes no more writes; "
                "open the collection again to write to the new space"
            )
        return self.read(REEMBEDS).get(space)

    def started(self, source: str, target: str) -> None:
        self.write(REEMBEDS, {**self.read(REEMBEDS), source: target})

    def switched(self, alias: str, source: str, target: str) -> None:
        """`alias` now means `target`; `source` is superseded and no longer being re-embedded."""
        self.write(ALIASES, {**self.read(ALIASES), alias: target})
        self.write(SUPERSEDED, {**self.read(SUPERSEDED), source: target})
        self.write(REEMBEDS, {k: v for k, v in self.read(REEMBEDS).items() if k != source})

    def dropped(self, name: str) -> None:
        """Space `name` is gone: no reembed builds it any more."""
        self.write(REEMBEDS, {k: v for k, v in self.read(REEMBEDS).items() if v != name})


def embed_the_rest(
    rows: Rows, source: str, add: Callable[[Rows, np.ndarray], int], embed: Callable[[list[str]], np.ndarray]
) -> int:
    """The switch's last pass, inside its transaction: embed `rows` and store them with
    `add`; every one must land (never switch to a partial space). Returns how many."""
    refuse_textless(rows, source)
    written = add(rows, embed([text for _, text in rows])) if rows else 0
    if written != len(rows):  # cannot happen under the write lock
        raise EmbkitError(f"space: {len(rows) - written} documents changed during the switch; run it again")
    return written


def refuse_textless(rows: Rows, source: str) -> None:
    """Refuse rows stored without text: there is nothing to embed again."""
    textless = [rowid for rowid, text in rows if text is None]
    if textless:
        raise EmbkitError(
            f"space: {len(textless)} documents of {source!r} have no stored text to embed again "
            f"(row {textless[0]}: added as vectors only)"
        )
