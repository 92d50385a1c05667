"""Which models the OpenAI-compatible routes serve, by name: a catalog model, a
registered trained model, or a served collection (its model). Catalog and registered
names come first, so a collection named like one is reached by its model's name. A
path is never a model here: a client must not make the server load files it names.

Encoders are loaded once and shared; a few are kept (least recently used goes first)."""

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from fastapi import Request

from ..encoders import CATALOG, Encoder, load_encoder
from ..encoders.prompts import encode_as, with_prompt
from ..encoders.registry import registered, resolve
from ..encoders.token_counts import TokenCounter
from ..errors import EmbkitError
from .errors import ApiError
from .keys import Key
from .openai_shapes import ModelCard
from .state import served

MAX_LOADED = 4  # encoders kept loaded for /v1/embeddings beyond the collections' own


def not_found(message: str) -> ApiError:
    return ApiError(404, message, code="model_not_found")


@dataclass
class Served:
    """A model ready to embed: how to embed texts in a role (None: as given; see
    encoders/prompts.py), how to count their tokens, and its encoder (whose prompts
    the counted texts carry)."""

    name: str
    embed: Callable[[list[str], str | None], np.ndarray]
    counter: TokenCounter
    dim: int
    encoder: Encoder

    def read(self, texts: list[str], role: str | None) -> list[str]:
        """The texts as the model reads them in `role` (its prompt before each)."""
        return with_prompt(self.encoder, texts, role)


class EncoderCache:
    """Loaded encoders and their token counters by name, at most `size` encoders."""

    def __init__(self, size: int = MAX_LOADED):
        self.size, self._lock = size, threading.Lock()
        self._encoders: OrderedDict[tuple, Encoder] = OrderedDict()
        self._counters: OrderedDict[tuple, TokenCounter] = OrderedDict()

    def encoder(self, key: tuple, load: Callable[[], Encoder]) -> Encoder:
        with self._lock:  # held while loading: two requests for a new model load it once
            if key not in self._encoders:
                self._encoders[key] = load()
            self._encoders.move_to_end(key)
            while len(self._encoders) > self.size:
                self._encoders.popitem(last=False)
            return self._encoders[key]

    def counter(self, encoder: Encoder) -> TokenCounter:
        key = (encoder.name, encoder.max_tokens)
        with self._lock:
            if key not in self._counters:
                self._counters[key] = TokenCounter(encoder)
            self._counters.move_to_end(key)
            while len(self._counters) > 2 * self.size:
                self._counters.popitem(last=False)
            return self._counters[key]


ENCODERS = EncoderCache()


def for_embedding(request: Request, name: str, key: Key | None) -> Served:
    """The model `name` names, loaded, or a 404 (unknown) / 403 (a collection the key
    does not cover) / 400 (a model that does not embed text)."""
    trained = None if name in CATALOG else _registered(name)
    if name in CATALOG:
        entry = CATALOG[name]
        if entry.missing():
            raise not_found(f"model: {name!r} is not installed on this server ({entry.install})")
        encoder = ENCODERS.encoder(("catalog", name), lambda: load_encoder(name))
    elif trained is not None:  # keyed by its folder too: a name registered again is a new model
        encoder = ENCODERS.encoder(("registered", name, trained["path"]), lambda: load_encoder(name))
    else:
        return _collection(request, name, key)
    _text_only(encoder, name)
    return Served(
        name, lambda texts, role: encode_as(encoder, texts, role), ENCODERS.counter(encoder), int(encoder.dim), encoder
    )


def _collection(request: Request, name: str, key: Key | None) -> Served:
    collections = served(request)
    if name not in collections.names():
        raise not_found(f"model: no model or collection named {name!r} (see GET /v1/models)")
    if key is not None and not key.allows("read", name):
        raise ApiError(403, f"model: this key does not cover collection {name!r}")
    hosted = collections.get(name)
    with hosted.lock.reading():
        serving = hosted.collection.serving()
        encoder = serving.encoder  # a collection without a model says so (400)
        dim = int(serving.space.dim)
    _text_only(encoder, name)

    # as /collections/{name}/embed: vectors as the collection stores them, without its
    # lock (embedding reads no documents, so it need not wait behind a long write)
    return Served(
        name, lambda texts, role: hosted.collection.embed(texts, role=role), ENCODERS.counter(encoder), dim, encoder
    )


def _text_only(encoder: Encoder, name: str) -> None:
    if getattr(encoder, "modality", "text") != "text":
        raise EmbkitError(f"model: {name!r} embeds {encoder.modality}s, not texts")


def _registered(name: str) -> dict | None:
    try:
        entry = resolve(name)
    except EmbkitError as e:  # registered, but its folder is gone
        raise not_found(str(e)) from None
    return entry if entry is not None and entry.get("modality", "text") == "text" else None


def cards(request: Request, key: Key | None) -> list[ModelCard]:
    """Every model a client may name with this key: installed catalog models,
    registered ones, the collections the key covers (each with its model), the reranker."""
    found = [_catalog_card(e.name) for e in CATALOG.values() if e.installed and e.modality == "text"]
    found += [
        _registered_card(name, entry) for name, entry in registered().items() if entry.get("modality", "text") == "text"
    ]
    taken = {card.id for card in found}
    collections = served(request)
    for name in request.app.state.auth.visible(key, collections.names()):
        card = None if name in taken else _collection_card(request, name)
        if card is not None:
            found.append(card)
    reranker = reranker_name(request)
    if reranker is not None:
        found.append(ModelCard(id=reranker, kind="reranker"))
    return found


def card(request: Request, name: str, key: Key | None) -> ModelCard:
    """The model card of `name`, or 404; 403 for a collection the key does not cover."""
    if name in CATALOG and CATALOG[name].installed:
        return _catalog_card(name)
    entry = _registered(name)
    if entry is not None:
        return _registered_card(name, entry)
    if name == reranker_name(request):
        return ModelCard(id=name, kind="reranker")
    if name in served(request).names():
        if key is not None and not key.allows("read", name):
            raise ApiError(403, f"model: this key does not cover collection {name!r}")
        found = _collection_card(request, name)
        if found is not None:
            return found
    raise not_found(f"model: no model or collection named {name!r} (see GET /v1/models)")


def reranker_name(request: Request) -> str | None:
    """The reranker's model name: its folder's name."""
    folder: Path | None = request.app.state.reranker
    return folder.name if folder is not None else None


def _catalog_card(name: str) -> ModelCard:
    entry = CATALOG[name]
    return ModelCard(id=name, kind="catalog", dim=entry.dim, max_tokens=entry.max_tokens, description=entry.description)


def _registered_card(name: str, entry: dict) -> ModelCard:
    return ModelCard(id=name, kind="registered", dim=entry.get("dim"), matryoshka=entry.get("matryoshka") or [])


def _collection_card(request: Request, name: str) -> ModelCard | None:
    """A served collection as a model (None when it has no model, or cannot be opened)."""
    try:
        hosted = served(request).get(name)
        with hosted.lock.reading():
            space = hosted.collection.serving().space
    except EmbkitError:
        return None
    if space.model == "none":
        return None
    return ModelCard(id=name, kind="collection", dim=int(space.dim), model=space.model)
