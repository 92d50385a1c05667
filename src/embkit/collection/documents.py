"""Writing and reading documents: every call goes through the one write path in
ingest/ (write.py, lookup.py, remove.py); a document id stands for all its chunks."""

import warnings
from pathlib import Path
from typing import Any, NamedTuple, Sequence

from .. import validate
from ..encoders.base import Progress
from ..errors import EmbkitError, EmbkitWarning
from ..ingest.embedding_cache import EmbeddingCache
from ..ingest.lookup import Document, check_unit, count as count_records, get_documents
from ..ingest.metadata_patch import merge_metadata
from ..ingest.records import Prepared, Written
from ..ingest.remove import Deleted, remove_documents
from ..ingest.write import WriteTarget, check_model, embed_texts, prepare_texts, write_documents, write_prepared


class Lookup(NamedTuple):
    """What `lookup` found, and what its filter names that no document has."""

    documents: list[Document]
    warnings: list[str]


class DocumentVerbs:
    """add, upsert, prepare, add_files, delete, count, get (ingest/ does the work)."""

    def add(
        self,
        texts: Sequence[str] | None = None,
        *,
        ids: Sequence[str] | None = None,
        metadatas: Sequence[dict] | None = None,
        vectors: Any = None,
        model: str | None = None,
        batch_size: int = 32,
        progress: Progress | None = None,
        max_document_bytes: int | None = None,
        chunk: bool = True,
    ) -> list[str]:
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
        return self._written(
            False,
            texts,
            ids=ids,
            metadatas=metadatas,
            vectors=vectors,
            model=model,
            batch_size=batch_size,
            progress=progress,
            max_document_bytes=max_document_bytes,
            chunk=chunk,
        )

    def upsert(
        self,
        texts: Sequence[str] | None = None,
        *,
        ids: Sequence[str] | None = None,
        metadatas: Sequence[dict] | None = None,
        vectors: Any = None,
        model: str | None = None,
        batch_size: int = 32,
        progress: Progress | None = None,
        max_document_bytes: int | None = None,
        chunk: bool = True,
    ) -> list[str]:
        """Like `add`, but documents whose id exists are replaced (text, metadata, vector),
        and the chunks an older version left (ids `ID#i`, metadata parent ID) removed."""
        return self._written(
            True,
            texts,
            ids=ids,
            metadatas=metadatas,
            vectors=vectors,
            model=model,
            batch_size=batch_size,
            progress=progress,
            max_document_bytes=max_document_bytes,
            chunk=chunk,
        )

    def _written(self, upsert: bool, texts, **options) -> list[str]:
        """add/upsert: the one write path, its warnings shown as EmbkitWarning."""
        written = write_documents(self._write_target(), texts, upsert=upsert, **options)
        _warn(written.warnings, stacklevel=4)  # at the line that called add or upsert
        return written.documents

    def prepare(
        self,
        texts: Sequence[str],
        *,
        ids: Sequence[str] | None = None,
        metadatas: Sequence[dict] | None = None,
        chunk: bool = True,
        model: str | None = None,
        max_document_bytes: int | None = None,
    ) -> Prepared:
        """The records `add(texts, ...)` would write, checked and chunked but not embedded:
        an `ingest.records.Prepared` (documents, ids, texts, metadatas, warnings). A
        server embeds `.texts` outside its write lock, then `write_prepared` them."""
        space = self._serving(None).space
        check_model(space, model)
        return prepare_texts(space.model, texts, ids, metadatas, chunk, max_document_bytes)

    @property
    def writing_model(self) -> str:
        """The model new texts are chunked for and embedded with: this space's, or after
        a reembed switched, the one that replaced it (as `prepare` and `write_prepared` use)."""
        return self._serving(None).space.model

    def embed_prepared(self, prepared: Prepared, batch_size: int = 32):
        """Vectors for a `prepare`d batch's records (already checked when prepared: no
        second text check), so a server embeds outside its write lock what
        `write_prepared` then stores. None when the batch has no texts."""
        if not prepared.texts:
            return None
        return embed_texts(self._write_target(), prepared.texts, batch_size, ids=prepared.ids)

    def write_prepared(
        self,
        prepared: Prepared,
        vectors: Any = None,
        *,
        upsert: bool = False,
        batch_size: int = 32,
        progress: Progress | None = None,
    ) -> Written:
        """Embed (unless `vectors`, a row per record) and store a `prepare`d batch in one
        transaction. Returns a `Written` (documents, record ids, warnings as values)."""
        return write_prepared(
            self._write_target(), prepared, vectors, upsert=upsert, batch_size=batch_size, progress=progress
        )

    def add_files(
        self,
        paths: Sequence[str | Path],
        *,
        include: Sequence[str] | None = None,
        exclude: Sequence[str] | None = None,
        progress: Progress | None = None,
        **options,
    ):
        """Add files and folders as `embkit add` does (same ids, chunks and metadata);
        `include`/`exclude` glob patterns choose a folder's files. Options: text_column,
        id_column, upsert, batch_size, chunk, chunk_tokens, overlap, image_model, audio_model,
        max_document_bytes; `progress(n)` is called as texts and images are embedded.
        Files a folder holds that this collection cannot take are skipped: returns a
        FilesAdded with `.ids`, `.skipped` (path, reason, kind) and `.summary`."""
        from contextlib import nullcontext

        from ..ingest.add_files import add_files

        bars = (lambda n, label: nullcontext(progress)) if progress else None
        done = add_files(self, paths, include=include, exclude=exclude, bars=bars, **options)
        _warn(done.warnings)
        return done

    def _write_target(self) -> WriteTarget:
        """What the write path needs: the store, and the space (and text encoder) that
        serves this one now (after a reembed switched, the one that replaced it)."""
        target = self._serving(None)
        return WriteTarget(
            target._store, target.space, lambda: target._encoder_for("text", "texts"), self.embedding_cache
        )

    @property
    def embedding_cache(self) -> EmbeddingCache | None:
        """The collection's embedding cache (chunk vectors kept by model and text, in
        `cache/embeddings.sqlite` of its folder), or None when turned off with
        `cache_embeddings = False` (this handle only)."""
        root = self._root or self
        if not getattr(root, "_cache_on", True):
            return None
        with root._encoder_lock:  # one cache object per handle, whichever thread asks first
            if getattr(root, "_embedding_cache", None) is None:
                root._embedding_cache = EmbeddingCache(root._store.path)
            return root._embedding_cache

    @property
    def cache_embeddings(self) -> bool:
        """Whether writes through this handle use the embedding cache (True by default)."""
        return getattr(self._root or self, "_cache_on", True)

    @cache_embeddings.setter
    def cache_embeddings(self, on: bool) -> None:
        if not isinstance(on, bool):
            raise EmbkitError(f"cache_embeddings: expected true or false, got {on!r}")
        (self._root or self)._cache_on = on

    def sync(
        self,
        folder: str | Path,
        *,
        include: Sequence[str] | None = None,
        exclude: Sequence[str] | None = None,
        dry_run: bool = False,
        batch_size: int = 32,
    ):
        """Make the collection mirror `folder`, read as `add_files` reads it: new and
        changed files (by content hash, kept in each document's metadata `sha256`) are
        written (their documents replaced), unchanged ones left alone, documents of files
        gone deleted. `dry_run` says what would happen and writes nothing. Returns a
        `Synced` (`added`, `changed`, `unchanged`, `removed`, `skipped`, `embedded`, ...);
        files that cannot be read are skipped with a warning and keep their documents."""
        from ..ingest.sync import sync_folder

        done = sync_folder(self, folder, include=include, exclude=exclude, dry_run=dry_run, batch_size=batch_size)
        _warn(done.notes(verbose=True))
        return done

    def delete(self, ids: Sequence[str] | None = None, where: dict | None = None) -> int:
        """Delete by id and/or filter in one transaction; a document id deletes all its
        chunks. Returns how many records (chunks) went; `remove` also counts documents."""
        deleted = self.remove(ids, where)
        _warn(deleted.warnings)
        return deleted.chunks

    def remove(self, ids: Sequence[str] | None = None, where: dict | None = None) -> Deleted:
        """`delete`, reporting documents and chunks (records) deleted, and the filter's
        warnings as values (`.warnings`: what `where` names that no document has)."""
        notes = tuple(self.filter_warnings(where))
        return remove_documents(self._store, ids, where)._replace(warnings=notes)

    def count(self, where: dict | None = None, unit: str = "chunk") -> int:
        """Number of records (matching `where`): `unit="chunk"` (the default, as before)
        counts each chunk of a long document; `unit="document"` counts documents."""
        check_unit(unit)  # before the filter's warnings
        return count_records(self._store, self._checked_where(where) if where is not None else None, unit)

    def get(
        self,
        ids: Sequence[str] | None = None,
        where: dict | None = None,
        limit: int | None = None,
        include_vectors: bool = False,
    ) -> list[Document]:
        """Records by id (in the order given; missing ids left out) or by filter. A
        document id stored as chunks gives its chunks, in chunk order; a chunk id that chunk."""
        found = self.lookup(ids, where, limit, include_vectors)
        _warn(found.warnings)
        return found.documents

    def lookup(
        self,
        ids: Sequence[str] | None = None,
        where: dict | None = None,
        limit: int | None = None,
        include_vectors: bool = False,
    ) -> Lookup:
        """`get` with the filter's warnings returned as values, for a door that reports
        them itself (HTTP): `.documents`, `.warnings`."""
        notes = self.filter_warnings(where)
        return Lookup(get_documents(self._store, self.space.name, ids, where, limit, include_vectors), notes)

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

    def merge_metadata(self, patches: dict[str, dict]) -> None:
        """Merge fields into documents' metadata (id -> {field: value}; None removes a
        field) in one transaction. Vectors are untouched: no index goes stale."""
        merge_metadata(self._store, patches)


def _warn(lines: Sequence[str], stacklevel: int = 3) -> None:
    """The Python door shows a write's warnings as EmbkitWarning (the CLI prints them,
    HTTP returns them: the write path gives them back as values)."""
    for line in lines:
        warnings.warn(line, EmbkitWarning, stacklevel=stacklevel)
