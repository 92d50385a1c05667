"""Keeping a collection: its vector index, checks and repair, info, re-embedding with
a new model and snapshots (the work lives in index/ and maintenance/)."""

from pathlib import Path

from ..encoders.base import Progress
from ..index.manager import IndexManager
from ..search.matryoshka import check_dims
from ..store import SCHEMA_VERSION, Space
from ..store.space_names import space_state
from .spaces import space_of


class UpkeepVerbs:
    """build_index, check, info, reembed, snapshot."""

    def build_index(
        self,
        spec: str = "auto",
        *,
        memory_budget: int | str | None = None,
        progress: Progress | None = None,
        dims: int | None = None,
    ) -> dict:
        """Choose and build the vector index: `flat`, `hnsw:M=32,efc=200,ef=64`,
        `ivf:nlist=1024,nprobe=16`, `ivfpq:nlist=1024,m=48,nbits=8,nprobe=16`, `sq8`,
        `binary`, or `auto` (flat below 50k vectors, HNSW above; under `memory_budget`
        such as "512MB", the most faithful kind that fits). With `dims`, the index of the
        Matryoshka view on the first `dims` dimensions. Returns that index's info."""
        dims = check_dims(dims, self.space)
        manager = self._views(dims) if dims else self._index
        manager.build(spec, memory_budget, progress)
        return manager.info()

    def index_ready(self) -> bool:
        """True when a dense search runs in this process on an index that needs no work
        first (nothing to load, build or catch up): it then costs well under a
        millisecond. False for a database-side index (PostgreSQL)."""
        return isinstance(self._index, IndexManager) and self._index.ready()

    def refresh_index(self, progress: Progress | None = None) -> None:
        """Bring the index up to date now, waiting for any background build (searches
        catch up by themselves, but never wait for a big rebuild)."""
        self._index.current(progress)

    def check(self, repair: bool = False):
        """Verify the collection: the store's integrity and schema version, every
        vector (dimension, finite, unit length for cosine), each vector index and the
        keyword index against the store. With `repair`, rebuild the derived files that
        fail (store rows are never changed). Returns a `maintenance.Report`."""
        from ..maintenance import check

        root = self._root or self
        building = space_state(self._store)["reembeds"].values()  # no index of a space a reembed is filling
        indexes = {name: root._stored_space(name)._index for name in self.spaces if name not in building}
        return check(self._store, indexes, root.keyword_index(), repair=repair)

    def info(self) -> dict:
        """What `embkit info` shows: where (path or URL) and on which backend, count
        (records), documents and chunks, spaces, model, dim, metric, index, size on disk, whether it is read-only."""
        spaces = {
            s.name: {"model": s.model, "dim": s.dim, "metric": s.metric, "normalized": s.normalized}
            for s in self._store.spaces().values()
        }
        count = self.count()
        return {
            "path": self._store.location,
            "backend": self._store.backend,
            "count": count,
            "documents": self.count(unit="document"),
            "chunks": count,
            "spaces": spaces,
            "model": self.space.model,
            "dim": self.space.dim,
            "metric": self.space.metric,
            "index": self._index.info(),
            "bytes": self._store.size_bytes(),
            "sizes": self._sizes(),
            "generation": self._store.generation,
            "schema_version": int(self._store.meta("schema_version") or SCHEMA_VERSION),
            "read_only": self._store.read_only,
            **self._space_names(),
        }

    def _sizes(self) -> dict:
        """Bytes on disk by part: store, vector_index, keyword_index, caches, other, total."""
        from ..maintenance.sizes import sizes

        index_bytes = 0 if isinstance(self._index, IndexManager) else int(self._index.info().get("bytes") or 0)
        return sizes(self._store, index_bytes)

    def compact(self, full: bool = False) -> dict:
        """Give back the space deleted documents left: a saved vector index whose deleted
        entries are a fifth of it or more (any, with `full`) is rebuilt without them, the
        others kept, cache files nothing reads are removed,
        and the store is rewritten (SQLite VACUUM at the page size its vectors want;
        PostgreSQL VACUUM (FULL)). Stored ids, vectors, texts, metadata and search
        results stay the same. Needs the only open handle of a SQLite collection.
        Returns {"before", "after"} bytes, "indexes" rebuilt, the others "kept" (with
        why) and cache paths "removed"."""
        from ..maintenance.compact import compact

        root = self._root or self
        building = space_state(self._store)["reembeds"].values()  # a reembed is filling it: left alone
        indexes = {name: root._stored_space(name)._index for name in self.spaces if name not in building}
        return compact(self._store, indexes, full=full)

    def _space_names(self) -> dict:
        """For info: the space this handle reads, aliases left by reembed (name → space),
        reembeds under way (old space → space being built) and superseded spaces."""
        state = space_state(self._store)
        return {
            "space": self.space.name,
            "aliases": state["space_aliases"],
            "reembedding": state["reembeds"],
            "superseded": state["superseded"],
        }

    def reembed(
        self,
        model: str,
        space: str | None = None,
        drop_old: bool = False,
        progress: Progress | None = None,
        batch_size: int = 64,
    ) -> dict:
        """Move vector space `space` (this one by default) to `model` without downtime:
        a new space (`text_v2`) is filled from the stored texts, batch by batch (a rerun
        after a crash continues), while searches keep using the old one; then the name
        switches to it in one transaction. `drop_old` removes the old space afterwards.
        Returns a report (see maintenance/reembed.py)."""
        from ..maintenance.reembed import reembed

        def new_space(name: str, metric: str) -> Space:
            return space_of(model, metric, name=name)[0]

        return reembed(self, model, new_space, space=space, drop_old=drop_old, progress=progress, batch_size=batch_size)

    def snapshot(self, out: str | Path) -> dict:
        """A consistent copy of this collection in the new folder `out`, taken while
        writers keep writing: the database as of one commit, with the caches of that
        same generation (others are rebuilt on open). Returns the snapshot's manifest.
        A PostgreSQL collection is snapshot with pg_dump (the error says how)."""
        from ..maintenance.snapshot import snapshot

        return snapshot(self._store.location, out)
