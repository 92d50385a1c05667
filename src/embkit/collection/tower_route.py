"""The space a search or context with no space named goes to (Collection.find and
find_context share this one rule): a clip's neighbours are in the `audio` space and a
picture's in the `image` space when the collection has one; `like=ID` searches the space
holding that document's vector; and a text query on a CLAP/CLIP *text* tower whose text
space holds no documents searches the paired tower's space, where `add` put the sounds
or pictures. None: the collection's own space."""

from .. import validate
from ..ingest.lookup import records_of
from ..search.request import SearchRequest
from ..store import Space, Store
from .spaces import AUDIO_SPACE, IMAGE_SPACE, TOWER_SPACES, paired_tower


def tower_space(store: Store, space: Space, request: SearchRequest, cached: list) -> str | None:
    """The space `request` (no space named) searches instead of `space`, the collection's
    default. `cached` holds the text rule's last answer with the state it was read at."""
    spaces = store.spaces()  # PostgreSQL's is its open-time list: a tower space made since is seen on reopen
    for given, name in ((request.audio, AUDIO_SPACE), (request.image, IMAGE_SPACE)):
        if given is not None:
            return name if space.name != name and name in spaces else None
    if request.like is not None:
        return _holding(store, space, spaces, request.like)
    if request.query is None or request.mode == "keyword":
        return None
    return text_tower_space(store, space, spaces, cached)


def text_route(store: Store, space: Space, cached: list) -> str | None:
    """Where a text query with no space named goes (context's question too): see text_tower_space."""
    return text_tower_space(store, space, store.spaces(), cached)


def text_tower_space(store: Store, space: Space, spaces: dict[str, Space], cached: list) -> str | None:
    """The paired tower's space while `space` (a text tower's) holds no documents and it
    does. Decided once per store generation (any add or delete, in any process, moves it):
    the two counts scan the vectors (~9 ms at 200k) and ran on every query."""
    pair = None if space.name in TOWER_SPACES else next(  # a text tower pairs with one other tower at most
        (name for name, modality in TOWER_SPACES.items()
         if name in spaces and spaces[name].model == paired_tower(space.model, modality)), None)
    if pair is None:
        return None
    state = (store.generation, space.name, pair)
    entry = cached[0] if cached else None  # one read: another thread may replace it meanwhile
    if entry is None or entry[0] != state:
        empty = store.count_missing(space.name, None) == 0
        entry = (state, pair if empty and store.count_missing(pair, None) else None)
        cached[:] = [entry]
    return entry[1]


def _holding(store: Store, space: Space, spaces: dict[str, Space], like: str) -> str | None:
    """The space holding `like`'s vector: the collection's own when it does, else the
    `image` or `audio` space that does (a sound's or picture's added beside a text space)."""
    if not isinstance(like, str):
        return None  # not an id: the request's own check says so
    validate.check_unicode(like, "like")  # routed before the request's own checks: a lone surrogate is a 4xx
    rowids = [r.rowid for r in records_of(store, [like])]
    if not rowids or len(store.vectors(space.name, rowids)[0]):
        return None
    return next((name for name in TOWER_SPACES if name != space.name and name in spaces
                 and len(store.vectors(name, rowids)[0])), None)
