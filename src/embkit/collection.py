"""A collection: one folder, one SQLite store, one or more named vector spaces.

The CLI, the server and later the distributed runner all go through this class; none
of them touches SQLite or the encoders directly.
"""

import re
import sqlite3
import threading
import warnings
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np

from . import validate
from .encoders import CATALOG, DEFAULT_MODEL, Encoder, load_encoder
from .encoders.base import Progress
from .errors import EmbkitError, EmbkitWarning
from .index import in_database, index_manager
from .index.manager import IndexManager
from .ingest.lookup import Document, check_unit, count as count_records, get_documents
from .ingest.metadata_patch import merge_metadata
from .ingest.records import Prepared, Written
from .ingest.remove import Deleted, remove_documents
from .ingest.vectors import stored_form
from .ingest.write import WriteTarget, check_model, prepare_texts, write_documents, write_prepared
from .search import METRICS, Hit
from .search.context import Context
from .search.exact import scores as pairwise_scores
from .search.keyword import KeywordIndex
from .search.matryoshka import Views, check_dims
from .search.request import SearchRequest
from .search.run import Found, run_context, run_search
from .search.sources import SearchParts
from .store import SCHEMA_VERSION, Space, SQLiteStore, Store
from .store.pg_connection import is_url
from .store.postgres import PostgresStore
from .store.space_names import resolve_space, space_state

DEFAULT_SPACE = "text"
IMAGE_SPACE = "image"
_SPACE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class Table(NamedTuple):
    """Many documents at once, for the analysis verbs: parallel lists in row order."""

    ids: list[str]
    rowids: np.ndarray  # int64, the store's row ids
    vectors: np.ndarray  # float32 (n, dim), as stored (unit length for cosine)
    texts: list[str | None]
    metadatas: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.ids)


def create(path: str | Path, model: str | None = DEFAULT_MODEL, metric: str = "cosine",
           dim: int | None = None, image_model: str | None = None) -> "Collection":
    """A new collection in folder `path`. `model` is a catalog name or a model folder;
    `model=None` with `dim` makes a collection that only takes precomputed vectors.
    An image tower as `model` (`FOLDER#image`) makes an image collection (space
    `image`); `image_model` adds an `image` space beside the text one."""
    if metric not in METRICS:
        raise EmbkitError(f"metric: unknown {metric!r} (allowed: {', '.join(METRICS)})")
    encoder = None
    if model is None:
        if not isinstance(dim, int) or dim < 1:
            raise EmbkitError("dim: a collection without a model needs a positive integer dim")
        space = Space(DEFAULT_SPACE, "none", dim, metric, False)
    else:
        space, encoder = _space_of(model, metric, dim=dim)
    spaces = [space]
    if image_model is not None:
        if space.name == IMAGE_SPACE:
            raise EmbkitError(f"image_model: model {model!r} is an image tower already; "
                              "give a text model or no image_model")
        image_space, _ = _space_of(image_model, metric, name=IMAGE_SPACE)
        spaces.append(image_space)
    if is_url(path):
        col = Collection(PostgresStore.create(path, spaces), encoder)
        for s in spaces:  # pgvector's HNSW, kept current by PostgreSQL from the first write
            col.in_space(s.name).build_index("auto")
        return col
    return Collection(SQLiteStore.create(Path(path), spaces), encoder)


def _space_of(model: str, metric: str, name: str | None = None, dim: int | None = None) -> tuple[Space, Encoder | None]:
    """The space a model's vectors make, named `image` for an image tower and `text`
    otherwise unless `name` says; with the encoder if it had to be loaded to know."""
    entry, encoder = CATALOG.get(model), None
    if entry is not None and not entry.missing():
        model_name, model_dim, normalized, modality = entry.name, entry.dim, entry.normalized, entry.modality
    else:  # an unknown name, a folder, or a missing package: loading says what is wrong
        encoder = load_encoder(model)
        model_name, model_dim, normalized, modality = encoder.name, encoder.dim, encoder.normalized, encoder.modality
    if dim is not None and dim != model_dim:
        raise EmbkitError(f"dim: {dim} does not match model {model_name!r} ({model_dim}-d)")
    if name == IMAGE_SPACE and modality != "image":
        paired = encoder.paired if encoder is not None else None
        if paired is None:
            raise EmbkitError(f"image_model: {model!r} embeds {modality}, not images, and has no paired image tower")
        return _space_of(paired, metric, name=name)
    name = name or (IMAGE_SPACE if modality == "image" else DEFAULT_SPACE)
    return Space(name, model_name, model_dim, metric, normalized), encoder


def open(path: str | Path, read_url: str | None = None) -> "Collection":  # noqa: A001 - the name users expect
    """The collection in folder `path`, or at a `postgresql://…/db?collection=NAME` URL
    (then `read_url`, or `&read_url=` in the URL, sends reads to a replica)."""
    if is_url(path):
        return Collection(PostgresStore.open(path, read_url))
    if read_url is not None:
        raise EmbkitError("read_url: only a PostgreSQL collection has a replica to read from")
    return Collection(SQLiteStore.open(Path(path)))


def restore(snapshot: str | Path, path: str | Path, force: bool = False) -> "Collection":
    """Restore a snapshot (made by `Collection.snapshot`) into folder `path` and open it.
    A `path` that holds anything is refused unless `force`; the folder is written beside
    `path` and renamed into place, so `path` is the old folder or the whole new one."""
    from .maintenance.snapshot import restore as restore_snapshot

    if is_url(path):
        raise EmbkitError("path: a snapshot restores into a folder; a PostgreSQL collection is restored with "
                          "pg_restore (see `embkit snapshot --help`)")
    restore_snapshot(snapshot, path, force)
    return open(path)


class Collection:
    """Documents with metadata and vectors, searchable by meaning."""

    def __init__(self, store: Store, encoder: Encoder | None = None, space: str | None = None,
                 root: "Collection | None" = None):
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

    # ---- identity ------------------------------------------------------------------

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
                root._others[name] = Collection(self._store, space=name, root=root)
            return root._others[name]

    def add_space(self, name: str, model: str) -> Space:
        """A new named vector space whose vectors `model` makes (an image tower for
        images), with this collection's metric. Documents keep their other spaces."""
        if not isinstance(name, str) or not _SPACE_NAME.match(name):
            raise EmbkitError(f"name: space name {name!r} must be 1-32 lowercase letters, digits or '_', "
                              "starting with a letter")
        if name in self.spaces or name in space_state(self._store)["space_aliases"]:  # an alias is a space's name
            raise EmbkitError(f"name: the collection has a space {name!r} already")
        space, _ = _space_of(model, self.space.metric, name=name)
        self._store.add_space(space)
        if in_database(self._store):
            self.in_space(name).build_index("auto")
        return space

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
        caches = [(f"vector index of space {self.space.name!r}", self._index),
                  *((f"{dims}-dim vector index of space {self.space.name!r}", v) for dims, v in self._views.items())]
        if self._keyword is not None:
            caches.append(("keyword index", self._keyword))
        for name, cache in caches:
            try:
                cache.save()
            except (OSError, sqlite3.Error) as e:
                warnings.warn(f"{name} of {self.path} not saved ({e}); it was kept in memory only and its files "
                              "stay as they were", stacklevel=2)

    def __repr__(self) -> str:
        return f"Collection({self._store.location!r}, model={self.space.model!r}, metric={self.space.metric!r})"

    # ---- writing -------------------------------------------------------------------

    def add(self, texts: Sequence[str] | None = None, *, ids: Sequence[str] | None = None,
            metadatas: Sequence[dict] | None = None, vectors: Any = None, model: str | None = None,
            batch_size: int = 32, progress: Progress | None = None,
            max_document_bytes: int | None = None, chunk: bool = True) -> list[str]:
        """Add documents in one transaction; an id that exists already rejects the batch.
        Give `texts` to embed, or `vectors` (with optional texts) computed elsewhere.
        A text longer than the model reads is stored as chunks `ID#0`, `ID#1`, ... (metadata
        parent, chunk, start, end), cut as `embkit add` cuts it; `chunk=False` stores it
        whole (the model reads only its start; a warning says so). Given vectors, each
        text is one record. Every record's metadata `parent` names its document (a
        document stored whole: its own id). A text longer than `max_document_bytes` of
        UTF-8 (validate.MAX_DOCUMENT_BYTES by default) rejects the batch before anything
        is embedded. Returns the document ids (not chunk ids), generated (uuid4 hex)
        where not given. The write path is ingest/write.py."""
        written = write_documents(self._write_target(), texts, ids=ids, metadatas=metadatas, vectors=vectors,
                                  model=model, batch_size=batch_size, progress=progress,
                                  max_document_bytes=max_document_bytes, chunk=chunk)
        _warn(written.warnings)
        return written.documents

    def upsert(self, texts: Sequence[str] | None = None, *, ids: Sequence[str] | None = None,
               metadatas: Sequence[dict] | None = None, vectors: Any = None, model: str | None = None,
               batch_size: int = 32, progress: Progress | None = None,
               max_document_bytes: int | None = None, chunk: bool = True) -> list[str]:
        """Like `add`, but documents whose id exists are replaced (text, metadata, vector),
        and the chunks an older version left (ids `ID#i`, metadata parent ID) removed."""
        written = write_documents(self._write_target(), texts, ids=ids, metadatas=metadatas, vectors=vectors,
                                  model=model, batch_size=batch_size, progress=progress, upsert=True,
                                  max_document_bytes=max_document_bytes, chunk=chunk)
        _warn(written.warnings)
        return written.documents

    def prepare(self, texts: Sequence[str], *, ids: Sequence[str] | None = None,
                metadatas: Sequence[dict] | None = None, chunk: bool = True, model: str | None = None,
                max_document_bytes: int | None = None) -> Prepared:
        """The records `add(texts, ...)` would write, checked and chunked but not embedded:
        an `ingest.records.Prepared` (documents, ids, texts, metadatas, warnings). A
        server embeds `.texts` outside its write lock, then `write_prepared` them."""
        space = self._serving(None).space
        check_model(space, model)
        return prepare_texts(space.model, texts, ids, metadatas, chunk, max_document_bytes)

    def write_prepared(self, prepared: Prepared, vectors: Any = None, *, upsert: bool = False,
                       batch_size: int = 32, progress: Progress | None = None) -> Written:
        """Embed (unless `vectors`, a row per record) and store a `prepare`d batch in one
        transaction. Returns a `Written` (documents, record ids, warnings as values)."""
        return write_prepared(self._write_target(), prepared, vectors, upsert=upsert, batch_size=batch_size,
                              progress=progress)

    def add_files(self, paths: Sequence[str | Path], *, include: Sequence[str] | None = None,
                  exclude: Sequence[str] | None = None, progress: Progress | None = None, **options):
        """Add files and folders as `embkit add` does (same ids, chunks and metadata);
        `include`/`exclude` glob patterns choose a folder's files. Options: text_column,
        id_column, upsert, batch_size, chunk, chunk_tokens, overlap, image_model,
        max_document_bytes; `progress(n)` is called as texts and images are embedded.
        Files a folder holds that this collection cannot take are skipped: returns a
        FilesAdded with `.ids`, `.skipped` (path, reason, kind) and `.summary`."""
        from contextlib import nullcontext

        from .ingest.add_files import add_files

        bars = (lambda n, label: nullcontext(progress)) if progress else None
        done = add_files(self, paths, include=include, exclude=exclude, bars=bars, **options)
        _warn(done.warnings)
        return done

    def _write_target(self) -> WriteTarget:
        """What the write path needs: the store, and the space (and text encoder) that
        serves this one now (after a reembed switched, the one that replaced it)."""
        target = self._serving(None)
        return WriteTarget(target._store, target.space, lambda: target._encoder_for("text", "texts"))

    def delete(self, ids: Sequence[str] | None = None, where: dict | None = None) -> int:
        """Delete by id and/or filter in one transaction; a document id deletes all its
        chunks. Returns how many records (chunks) went; `remove` also counts documents."""
        return self.remove(ids, where).chunks

    def remove(self, ids: Sequence[str] | None = None, where: dict | None = None) -> Deleted:
        """`delete`, reporting documents and chunks (records) deleted."""
        return remove_documents(self._store, ids, self._checked_where(where) if where is not None else None)

    # ---- reading -------------------------------------------------------------------

    def count(self, where: dict | None = None, unit: str = "chunk") -> int:
        """Number of records (matching `where`): `unit="chunk"` (the default, as before)
        counts each chunk of a long document; `unit="document"` counts documents."""
        check_unit(unit)  # before the filter's warnings
        return count_records(self._store, self._checked_where(where) if where is not None else None, unit)

    def get(self, ids: Sequence[str] | None = None, where: dict | None = None, limit: int | None = None,
            include_vectors: bool = False) -> list[Document]:
        """Records by id (in the order given; missing ids left out) or by filter. A
        document id stored as chunks gives its chunks, in chunk order; a chunk id that chunk."""
        where = self._checked_where(where) if where is not None else None
        return get_documents(self._store, self.space.name, ids, where, limit, include_vectors)

    def filter_warnings(self, where: dict | None) -> list[str]:
        """What `where` names that no document has: a field none holds, or a value type
        that never occurs in it (one line each; empty for an empty collection). get,
        count, search and delete warn with these (EmbkitWarning)."""
        return self._store.filter_warnings(validate.check_where(where)) if where else []

    def _checked_where(self, where: dict) -> dict:
        """`where` validated (EmbkitError if invalid), warning of what no document has."""
        for line in self.filter_warnings(where):
            warnings.warn(line, EmbkitWarning, stacklevel=3)
        return where

    def table(self, where: dict | None = None) -> Table:
        """Every document (matching `where`) with its vector, in row order. No filter
        warnings: the analysis verbs reading it refuse an empty slice with an error that
        names a field no document has (analysis/common.py), which says it already."""
        rowids = self._store.rowids(validate.check_where(where)) if where is not None else None
        found, vectors = self._store.vectors(self.space.name, rowids)
        records = self._store.by_rowids(found) if len(found) else {}
        rows = [records[r] for r in found.tolist()]
        return Table([r.id for r in rows], found, vectors, [r.text for r in rows], [r.metadata for r in rows])

    def knn(self, vectors: np.ndarray, k: int, allow: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(row ids, scores), each (n, k), of the nearest stored vectors to each row of
        `vectors`, through the vector index in one batched call (-1 pads missing)."""
        vectors = self._prepare(vectors, "vectors")
        index = self._index.current()
        return index.search(vectors, k, allow=allow)

    def merge_metadata(self, patches: dict[str, dict]) -> None:
        """Merge fields into documents' metadata (id -> {field: value}; None removes a
        field) in one transaction. Vectors are untouched: no index goes stale."""
        merge_metadata(self._store, patches)

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Vectors for `texts` from this collection's encoder, prepared as stored."""
        texts = validate.check_texts(texts)
        col = self._serving(None)  # after a reembed switched: the model that now serves this space
        return col._prepare(col.encoder.encode(texts, batch_size=batch_size), "texts")

    def similarity(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """(len(a), len(b)) scores of each text in `a` against each in `b`, in the
        collection's metric (cosine; dot; l2 as negated distance)."""
        a, b = validate.check_texts(a, "a"), validate.check_texts(b, "b")
        return pairwise_scores(self.embed(a), self.embed(b), self._serving(None).space.metric).astype(np.float32)

    def fields(self, sample: int = 1000, top: int = 20) -> dict[str, dict]:
        """Metadata fields of (a sample of) the documents: the JSON types seen and the
        most common values, most common first; for filter menus."""
        from collections import Counter

        seen: dict[str, tuple[set, Counter]] = {}
        for record in self._store.find(None, sample):
            for key, value in record.metadata.items():
                types, counts = seen.setdefault(key, (set(), Counter()))
                types.add(type(value).__name__)
                if isinstance(value, (str, int, float, bool)):
                    counts[value] += 1
        return {key: {"types": sorted(types), "values": [v for v, _ in counts.most_common(top)]}
                for key, (types, counts) in sorted(seen.items())}

    # ---- searching (the stages live in search/; see search/request.py) ---------------

    def search(self, query: str | None = None, **options) -> list[Hit]:
        """Top-k for a text `query`, an `image` (path or PIL image), a `vector`, or the
        document with id `like` (more like this; the document itself is left out), in
        vector space `space` (this collection's by default). Options are the fields of
        `SearchRequest` (k, where, mode, rrf_k, alpha, mmr, rerank, reranker,
        documents, ef, nprobe, rescore, dims, space, model), documented there.
        `by_document=` is the old name of `documents=` (DeprecationWarning). A filter
        naming what no document has warns (EmbkitWarning)."""
        found = self.find(SearchRequest.of(query, **options))
        for line in found.warnings:
            warnings.warn(line, EmbkitWarning, stacklevel=2)
        return found.hits

    def find(self, request: SearchRequest) -> Found:
        """The hits of a `SearchRequest` with its warnings, for a door that reports them
        itself (HTTP, CLI --json). The request is checked here, once."""
        col = self._serving(request.space)
        return run_search(request.check(col.space), col._search_parts())

    def context(self, question: str, budget_tokens: int = 1500, *, k: int = 20, where: dict | None = None,
                mode: str | None = None, rerank: int | None = None, reranker: str | None = None) -> Context:
        """Passages for an LLM prompt: the best hits for `question` (hybrid search by
        default), deduplicated, numbered and cited, within `budget_tokens`.
        `Context.text` is the block to paste; `Context.passages` has the citations."""
        ctx, notes = self.find_context(question, budget_tokens, k=k, where=where, mode=mode, rerank=rerank,
                                       reranker=reranker)
        for line in notes:
            warnings.warn(line, EmbkitWarning, stacklevel=2)
        return ctx

    def find_context(self, question: str, budget_tokens: int = 1500, **options) -> tuple[Context, list[str]]:
        """`context` with its warnings returned rather than issued (for the server)."""
        return run_context(question, budget_tokens, options, self._serving(options.get("space"))._search_parts())

    def _search_parts(self) -> SearchParts:
        return SearchParts(self._store, self.space, self._index, self._views, self.keyword_index, self._encoder_for)

    def keyword_index(self) -> KeywordIndex:
        """The BM25 index over the documents' text (built on first use)."""
        if self._root is not None:  # one BM25 index per collection, whichever space asks
            return self._root.keyword_index()
        if self._keyword is None:
            self._keyword = KeywordIndex(self._store, self.path / "keyword")
        return self._keyword

    # ---- analysis (each verb lives in analysis/; options are documented there) -------

    def cluster(self, k: int | str = "auto", method: str = "kmeans", **options):
        """Group documents (k-means or HDBSCAN), label each cluster by its distinctive
        terms and a representative document, and store the assignment as metadata."""
        from .analysis.cluster import cluster
        return cluster(self._serving(None), k=k, method=method, **options)

    def project(self, method: str = "umap", **options):
        """2-D coordinates of the documents (umap, pca or tsne), cached per generation."""
        from .analysis.coordinates import project
        return project(self._serving(None), method=method, **options)

    def map(self, out: str | Path, method: str = "umap", **options):
        """Write an interactive HTML map (and a PNG beside it) of the documents."""
        from .analysis.maps import write_map
        return write_map(self._serving(None), out, method=method, **options)

    def outliers(self, top: int = 20, method: str = "knn", **options):
        """The `top` documents least like the rest (k-NN distance or local outlier factor)."""
        from .analysis.outliers import outliers
        return outliers(self._serving(None), top=top, method=method, **options)

    def duplicates(self, threshold: float = 0.95, **options):
        """Groups of near-duplicate documents (cosine ≥ threshold), found through the index."""
        from .analysis.duplicates import duplicates
        return duplicates(self._serving(None), threshold=threshold, **options)

    def dedupe(self, threshold: float = 0.95, keep: str = "first", delete: bool = False, **options):
        """Near-duplicate groups and which ids would go; deletes them only with delete=True."""
        from .analysis.duplicates import dedupe
        return dedupe(self._serving(None), threshold=threshold, keep=keep, delete=delete, **options)

    def recommend(self, liked: Sequence[str], disliked: Sequence[str] = (), k: int = 10, **options) -> list[Hit]:
        """Documents like the `liked` ones and unlike the `disliked`, from a profile vector."""
        from .analysis.recommend import recommend
        return recommend(self._serving(None), liked=liked, disliked=disliked, k=k, **options)

    def drift(self, other: "Collection | None" = None, **options):
        """How far another collection (or another slice of this one) has moved."""
        from .analysis.drift import drift
        return drift(self._serving(None), other, **options)

    # ---- the index -----------------------------------------------------------------

    def build_index(self, spec: str = "auto", *, memory_budget: int | str | None = None,
                    progress: Progress | None = None, dims: int | None = None) -> dict:
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
        from .maintenance import check

        root = self._root or self
        building = space_state(self._store)["reembeds"].values()  # no index of a space a reembed is filling
        indexes = {name: root._stored_space(name)._index for name in self.spaces if name not in building}
        return check(self._store, indexes, root.keyword_index(), repair=repair)

    def info(self) -> dict:
        """What `embkit info` shows: where (path or URL) and on which backend, count
        (records), documents and chunks, spaces, model, dim, metric, index, size on disk, whether it is read-only."""
        spaces = {s.name: {"model": s.model, "dim": s.dim, "metric": s.metric, "normalized": s.normalized}
                  for s in self._store.spaces().values()}
        count = self.count()
        return {"path": self._store.location, "backend": self._store.backend, "count": count,
                "documents": self.count(unit="document"), "chunks": count, "spaces": spaces,
                "model": self.space.model, "dim": self.space.dim, "metric": self.space.metric,
                "index": self._index.info(), "bytes": self._store.size_bytes(), "generation": self._store.generation,
                "schema_version": int(self._store.meta("schema_version") or SCHEMA_VERSION),
                "read_only": self._store.read_only, **self._space_names()}

    def _space_names(self) -> dict:
        """For info: the space this handle reads, aliases left by reembed (name → space),
        reembeds under way (old space → space being built) and superseded spaces."""
        state = space_state(self._store)
        return {"space": self.space.name, "aliases": state["space_aliases"], "reembedding": state["reembeds"],
                "superseded": state["superseded"]}

    def reembed(self, model: str, space: str | None = None, drop_old: bool = False,
                progress: Progress | None = None, batch_size: int = 64) -> dict:
        """Move vector space `space` (this one by default) to `model` without downtime:
        a new space (`text_v2`) is filled from the stored texts, batch by batch (a rerun
        after a crash continues), while searches keep using the old one; then the name
        switches to it in one transaction. `drop_old` removes the old space afterwards.
        Returns a report (see maintenance/reembed.py)."""
        from .maintenance.reembed import reembed

        def space_of(name: str, metric: str) -> Space:
            return _space_of(model, metric, name=name)[0]

        return reembed(self, model, space_of, space=space, drop_old=drop_old, progress=progress, batch_size=batch_size)

    def snapshot(self, out: str | Path) -> dict:
        """A consistent copy of this collection in the new folder `out`, taken while
        writers keep writing: the database as of one commit, with the caches of that
        same generation (others are rebuilt on open). Returns the snapshot's manifest.
        A PostgreSQL collection is snapshot with pg_dump (the error says how)."""
        from .maintenance.snapshot import snapshot

        return snapshot(self._store.location, out)

    # ---- images (see image_documents.py) --------------------------------------------------

    def add_images(self, paths: Sequence[str], *, ids: Sequence[str] | None = None,
                   metadatas: Sequence[dict] | None = None, upsert: bool = False, batch_size: int = 16,
                   progress: Progress | None = None, space: str = IMAGE_SPACE):
        """Embed image files (png, jpg, webp) into the image space in one transaction,
        with metadata path, bytes, width, height, format and EXIF `taken`, and cache a
        thumbnail of each. Ids default to the paths. A file that is not a readable image
        is skipped: returns (ids written, [Skipped(path, reason)])."""
        from .image_documents import add_images

        if space not in self.spaces:
            raise EmbkitError(f"space: the collection has no {space!r} space; add one with add_space({space!r}, "
                              "MODEL) or create the collection with image_model=")
        target = self.in_space(space)
        return add_images(target, paths, image_encoder=lambda: target._encoder_for("image", "images"),
                          refuse_existing=target._store.refuse_existing, ids=ids, metadatas=metadatas,
                          upsert=upsert, batch_size=batch_size, progress=progress)

    def thumbnail(self, doc_id: str, roots: Sequence[str | Path] | None = None) -> Path | None:
        """The cached thumbnail (WebP) of an image document, made again from the file if
        it went missing; None for a document that is not an image. Given `roots` (as a
        server does), a file is read only from the collection's own uploads or under them."""
        from .image_documents import thumbnail
        return thumbnail(self, doc_id, roots)

    # ---- helpers -------------------------------------------------------------------

    def _serving(self, space: str | None) -> "Collection":
        """The collection that answers for `space` (None: this one's): followed to the
        space that replaced it when a reembed switched since this handle was opened."""
        col = self.in_space(space)
        name, superseded = col.space.name, space_state(self._store)["superseded"]  # one read a call
        while name in superseded:  # a chain of reembeds
            name = superseded[name]
        return col if name == col.space.name else col.in_space(name)

    def _encoder_for(self, modality: str, field: str) -> Encoder:
        """The encoder that embeds `modality` into this space: its own, or the tower
        paired with it (a CLIP model's other half)."""
        encoder = self.encoder
        if encoder.modality == modality:
            return encoder
        paired = encoder.paired
        if paired is None:
            raise EmbkitError(f"{field}: space {self.space.name!r} ({self.space.model}) embeds "
                              f"{encoder.modality} and has no paired {modality} encoder")
        if self._paired is None:  # looked up once: a query must not read model files again
            self._paired = load_encoder(paired)
        return self._paired

    def _check_model(self, model: str | None) -> None:
        """Vectors from another model are incompatible: refuse, naming both."""
        check_model(self.space, model)

    def _prepare(self, vectors: np.ndarray, field: str) -> np.ndarray:
        """Float32; unit length for cosine (a zero vector has no direction: refused)."""
        return stored_form(vectors, self.space.metric, field)



def _warn(lines: Sequence[str]) -> None:
    """The Python door shows a write's warnings as EmbkitWarning (the CLI prints them,
    HTTP returns them: the write path gives them back as values)."""
    for line in lines:
        warnings.warn(line, EmbkitWarning, stacklevel=3)
