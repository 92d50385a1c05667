"""Making, opening and restoring a collection: a folder (SQLite) or a PostgreSQL URL."""

from pathlib import Path

from ..encoders import DEFAULT_MODEL
from ..errors import EmbkitError
from ..ingest.space_prompts import record_new_space
from ..search import METRICS
from ..store import Space, SQLiteStore
from ..store.pg_connection import is_url
from ..store.postgres import PostgresStore
from .facade import Collection
from .spaces import AUDIO_SPACE, DEFAULT_SPACE, IMAGE_SPACE, space_of


def create(
    path: str | Path,
    model: str | None = DEFAULT_MODEL,
    metric: str = "cosine",
    dim: int | None = None,
    image_model: str | None = None,
    audio_model: str | None = None,
) -> "Collection":
    """A new collection in folder `path`. `model` is a catalog name or a model folder;
    `model=None` with `dim` makes a collection that only takes precomputed vectors.
    An image tower as `model` (`FOLDER#image`) makes an image collection (space
    `image`), an audio tower (`FOLDER#audio`) an audio one; `image_model` and
    `audio_model` add an `image` and an `audio` space beside the text one."""
    if metric not in METRICS:
        raise EmbkitError(f"metric: unknown {metric!r} (allowed: {', '.join(METRICS)})")
    encoder = None
    if model is None:
        if not isinstance(dim, int) or dim < 1:
            raise EmbkitError("dim: a collection without a model needs a positive integer dim")
        space = Space(DEFAULT_SPACE, "none", dim, metric, False)
    else:
        space, encoder = space_of(model, metric, dim=dim)
    spaces = [space]
    if image_model is not None:
        if space.name == IMAGE_SPACE:
            raise EmbkitError(
                f"image_model: model {model!r} is an image tower already; give a text model or no image_model"
            )
        image_space, _ = space_of(image_model, metric, name=IMAGE_SPACE)
        spaces.append(image_space)
    if audio_model is not None:
        if space.name == AUDIO_SPACE:
            raise EmbkitError(
                f"audio_model: model {model!r} is an audio tower already; give a text model or no audio_model"
            )
        spaces.append(space_of(audio_model, metric, name=AUDIO_SPACE)[0])
    store = PostgresStore.create(path, spaces) if is_url(path) else SQLiteStore.create(Path(path), spaces)
    for s in spaces:  # the document prompt its vectors will carry (ingest/space_prompts.py)
        record_new_space(store, s)
    col = Collection(store, encoder)
    if is_url(path):
        for s in spaces:  # pgvector's HNSW, kept current by PostgreSQL from the first write
            col.in_space(s.name).build_index("auto")
    return col


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
    from ..maintenance.snapshot import restore as restore_snapshot

    if is_url(path):
        raise EmbkitError(
            "path: a snapshot restores into a folder; a PostgreSQL collection is restored with "
            "pg_restore (see `embkit snapshot --help`)"
        )
    restore_snapshot(snapshot, path, force)
    return open(path)
