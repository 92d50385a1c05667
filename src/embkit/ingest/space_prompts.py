"""The document prompt a space's vectors were made with, remembered in the collection.

A stored vector is the model's vector of prompt + text, so a space is only one space
while every document in it was embedded with the same document prompt. A model folder's
prompts can change under a collection (a user edits config_sentence_transformers.json,
or a newer embkit's catalog names another prompt): new documents would then land beside
the old ones in another space, and search would silently rank them apart. So each space
records its document prompt when it is made (or, made by an older embkit, at its first
write), and a write (or an import of shards) whose prompt is another one is refused,
naming both, until the space is re-embedded (`reembed` with the same model then builds
a new space). A space that holds vectors but no record was written before prompts
existed: "" (none). Queries are not checked: a query prompt changes no stored vector."""

import json

from ..encoders.prompts import declared_prompt, prompt_for
from ..errors import EmbkitError
from ..store import Space, Store

_KEY = "document_prompt:"


def recorded_prompt(store: Store, space: str) -> str | None:
    """The document prompt recorded for `space`, or None if none is recorded."""
    raw = store.meta(_KEY + space)
    return None if raw is None else json.loads(raw)


def record_prompt(store: Store, space: str, prompt: str) -> None:
    """Remember that `space`'s vectors are embedded with the document prompt `prompt`."""
    store.set_meta(_KEY + space, json.dumps(prompt))


def record_new_space(store: Store, space: Space) -> None:
    """A space just made: its model's document prompt now is the one its vectors will
    carry, whatever fills it (texts, or vectors imported from shards that model made)."""
    if space.model != "none":
        record_prompt(store, space.name, declared_prompt(space.model, "document"))


def forget_prompt(store: Store, space: str) -> None:
    """`space` is gone: its record goes too."""
    store.set_meta(_KEY + space, None)


def space_prompt(store: Store, space: str, current: str) -> str:
    """The document prompt `space`'s vectors were embedded with: the recorded one; for a
    space without a record, `current` (the model's now) if it holds no vector yet, else
    "" (its vectors were written before embkit applied prompts)."""
    recorded = recorded_prompt(store, space)
    if recorded is not None:
        return recorded
    return current if next(iter(store.vector_blobs(space, 1)), None) is None else ""


def check_document_prompt(store: Store, space: Space) -> str:
    """The document prompt a write into `space` embeds with (its model's, now), after
    checking it is the one the space's vectors were embedded with (recorded on first use)."""
    current = declared_prompt(space.model, "document")  # "" inside prompts.unprompted()
    recorded = recorded_prompt(store, space.name)
    if recorded is None:
        recorded = space_prompt(store, space.name, current)
        if not store.read_only:  # (a read-only store refuses the write itself)
            record_prompt(store, space.name, recorded)
    if recorded != current:
        raise EmbkitError(
            f"model: the document prompt of {space.model!r} is now {current!r}, but the documents of space "
            f"{space.name!r} were embedded with {recorded!r}; restore the model's prompts, or re-embed the "
            "space (embkit reembed) so old and new documents share one space"
        )
    return current


def applying(encoder, prompt: str, model: str):
    """`encoder`, after checking that it puts `prompt` (the space's document prompt, the
    one the embedding cache is keyed on) before documents: an encoder loaded before its
    folder's prompts changed does not, and its vectors would be stored as the new ones."""
    applied = prompt_for(encoder, "document")
    if applied != prompt:
        raise EmbkitError(
            f"model: {model!r} declares the document prompt {prompt!r}, but its loaded encoder applies {applied!r} "
            "(its files changed since it was loaded); open the collection again"
        )
    return encoder
