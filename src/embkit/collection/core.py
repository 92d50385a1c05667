"""What every collection handle is: a store, the vector space it reads, that space's
encoder and index, views on the other spaces, and saving the caches on close."""

import sqlite3
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..encoders import Encoder, load_encoder
from ..encoders.prompts import declared_prompt
from ..errors import EmbkitError
from ..index import in_database, index_manager
from ..ingest.space_prompts import record_new_space, space_prompt
from ..ingest.vectors import stored_form
from ..search.keyword import KeywordIndex
from ..search.matryoshka import Views
from ..store import Space, Store
from ..store.space_names import resolve_space, space_state
from .spaces import DEFAULT_SPACE, SPACE_NAME, space_of

if TYPE_CHECKING:
    from .facade import Collection


class CollectionCore:
    """The handle itself: store, space, encoder, index, lifecycle."""

    def __init__(
        self, store: Store, encoder: Encoder | None = None, space: str | None = None, root: "Collection | None" = None
    ):
        self._store, self._encoder = store, encoder
        self._encoder_lock = threading.Lock()
        spaces = store.spaces()
        if root is None or space not in spaces:  # a view (see _stored_space) names its stored space
            space = resolve_space(store, spaces, space, DEFAULT_SPACE)
        self.space: Space = spaces[space]
        self._root = root  # a view on another space of the same store (see in_space)
        self._others: dict[str, Collection] = {}
        self._index = index_manager(store, self.space, store.path / "index" / space)
        self._keyword: KeywordIndex | None = None
        self._views = Views(store, self.space, store.path / "index")  # Matryoshka views by dimension
        self._paired: Encoder | None = None  # the encoder's other tower, for queries of the other modality
        self._superseded: dict[str, str] | None = None  # PostgreSQL: the map searches follow (see _serving)
        self._text_route: list = []  # a text query's space, with the store state it was decided at (tower_route)

    @property
    def path(self) -> Path:
        return self._store.path

    @property
    def name(self) -> str:
        return self._store.path.name

    @property
    def spaces(self) -> dict[str, Space]:
        """Every vector space of the collection, by name."""
        return self._store.spaces()

    def in_space(self, name: str | None) -> "Collection":
        """This collection seen through another of its vector spaces (the same store and
        documents; that space's vectors, encoder and index). None: this one."""
        if name is not None:  # an alias left by reembed names the space that replaced the old one
            name = resolve_space(self._store, self._store.spaces(), name, DEFAULT_SPACE)
        if name is None or name == self.space.name:
            return self
        return self._stored_space(name)

    def _stored_space(self, name: str) -> "Collection":
        """The view of stored space `name` as it is: no alias followed, and a space a
        reembed is still building included (for `check`; searches go through in_space)."""
        root = self._root or self
        if name == root.space.name:
            return root
        with root._encoder_lock:  # the server's threads must not make two views of a space
            if name not in root._others:
                root._others[name] = type(self)(self._store, space=name, root=root)
            return root._others[name]

    def add_space(self, name: str, model: str) -> Space:
        """A new named vector space whose vectors `model` makes (an image tower for
        images), with this collection's metric. Documents keep their other spaces."""
        if not isinstance(name, str) or not SPACE_NAME.match(name):
            raise EmbkitError(
                f"name: space name {name!r} must be 1-32 lowercase letters, digits or '_', starting with a letter"
            )
        if name in self.spaces or name in space_state(self._store)["space_aliases"]:  # an alias is a space's name
            raise EmbkitError(f"name: the collection has a space {name!r} already")
        space, _ = space_of(model, self.space.metric, name=name)
        self._store.add_space(space)
        record_new_space(self._store, space)  # the document prompt its vectors will carry
        if in_database(self._store):
            self.in_space(name).build_index("auto")
        return space

    @property
    def document_prompt(self) -> str:
        """The document prompt this space's stored vectors were embedded with (its model's
        prompt when the space was made; see ingest/space_prompts.py)."""
        return space_prompt(self._store, self.space.name, declared_prompt(self.space.model, "document"))

    @property
    def encoder(self) -> Encoder:
        """The space's encoder, loaded on first use (opening a collection loads no model)."""
        with self._encoder_lock:  # threads (the server's) must not load it twice
            if self._encoder is None:
                if self.space.model == "none":
                    raise EmbkitError("model: this collection has no model; pass vectors instead of texts")
                self._encoder = load_encoder(self.space.model)
            return self._encoder

    def __enter__(self) -> "Collection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self, save: bool = True) -> None:
        """Save the indexes that moved on (unless `save=False`: say, the folder is gone),
        and close the store. A view from `in_space` leaves that to its collection."""
        if self._root is not None:
            return
        try:
            if save:
                for col in (self, *self._others.values()):
                    col._save()
        finally:
            self._store.close()

    def _save(self) -> None:
        """Write the caches that moved on. They are caches of the store: a save that
        fails (a full disk, a read-only collection) leaves their previous files, says so
        in a warning and never fails the read that caught them up; the next open catches
        them up again. This is the one place a collection's caches are saved from."""
        caches = [
            (f"vector index of space {self.space.name!r}", self._index),
            *((f"{dims}-dim vector index of space {self.space.name!r}", v) for dims, v in self._views.items()),
        ]
        for name, cache in caches:
            try:
                cache.save()
            except (OSError, sqlite3.Error) as e:
                warnings.warn(
                    f"{name} of {self.path} not saved ({e}); it was kept in memory only and its files "
                    "stay as they were",
                    stacklevel=2,
                )

    @property
    def generation(self) -> int:
        """The store's generation, which every write moves on (derived caches key on it)."""
        return self._store.generation

    def serving(self, space: str | None = None) -> "CollectionCore":
        """The handle that answers for `space` (None: this one's) now: followed to the
        space that replaced it when a reembed switched since this handle was opened."""
        return self._serving(space)

    def __repr__(self) -> str:
        return f"Collection({self._store.location!r}, model={self.space.model!r}, metric={self.space.metric!r})"

    def _serving(self, space: str | None, cached: bool = False) -> "Collection":
        """The collection that answers for `space` (None: this one's): followed to the
        space that replaced it when a reembed switched since this handle was opened.
        `cached` (a search): by the map the last search read, which the search checks
        again once it ran (see `_superseded_since`): one freshness check a search, not two."""
        col = self.in_space(space)
        root = self._root or self
        superseded = root._superseded
        if superseded is None or not cached:
            superseded = root._superseded = space_state(self._store)["superseded"]
        name = col.space.name
        while name in superseded:  # a chain of reembeds
            name = superseded[name]
        return col if name == col.space.name else col._stored_space(name)  # a stored space: no alias to read

    def _superseded_since(self, col: "Collection", seen: dict[str, str] | None) -> bool:
        """After a search in `col` from `_serving(cached=True)`: True when another process
        has switched `col`'s space since the cached map was read (then search again). `seen`
        is the map the search's own statement read (PostgreSQL's search, SQLite's rows of a
        plain search; None: none did, read it now); kept for the next."""
        root = self._root or self
        root._superseded = space_state(self._store)["superseded"] if seen is None else seen
        return col.space.name in root._superseded

    def _encoder_for(self, modality: str, field: str) -> Encoder:
        """The encoder that embeds `modality` into this space: its own, or the tower
        paired with it (a CLIP model's other half)."""
        encoder = self.encoder
        if encoder.modality == modality:
            return encoder
        paired = encoder.paired
        if paired is None:
            raise EmbkitError(
                f"{field}: space {self.space.name!r} ({self.space.model}) embeds "
                f"{encoder.modality} and has no paired {modality} encoder"
            )
        if self._paired is None:  # looked up once: a query must not read model files again
            self._paired = load_encoder(paired)
        return self._paired

    def _prepare(self, vectors: np.ndarray, field: str) -> np.ndarray:
        """Float32; unit length for cosine (a zero vector has no direction: refused)."""
        return stored_form(vectors, self.space.metric, field)
