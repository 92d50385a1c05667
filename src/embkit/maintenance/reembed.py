"""Move a collection's vector space to another model without downtime.

`text` (say, minilm) is re-embedded into a new space `text_v2` (the next free
`NAME_vN`) from the stored texts, one transaction a batch, while every search keeps
using `text`. A rerun after a crash continues with the rows that have no vector in
`text_v2` yet. Rows written to `text` meanwhile lose their `text_v2` vector in the
same transaction (the store sees the reembed under way), so they are embedded again.
Once a pass finds little left, one store transaction embeds the rest, makes the name
`text` mean `text_v2` and marks `text` superseded: handles opened before follow it on
their next search or write. `drop_old` then removes the old space and its index files.

Takes the collection as an argument (this layer imports no facade); `space_of(name,
metric)` describes the new space (the facade's catalog lookup).
"""

import shutil
from typing import Callable

from ..encoders import load_encoder
from ..encoders.base import Progress, l2_normalize
from ..encoders.prompts import declared_prompt, encode_as
from ..errors import EmbkitError
from ..index import in_database, index_manager
from ..ingest.space_prompts import check_document_prompt, forget_prompt, record_prompt, space_prompt
from ..store.reembed_steps import refuse_textless
from ..store.space_names import space_state

MAX_PASSES = 5  # catch-up passes before the switch embeds what is left under the write lock


def reembed(col, model: str, space_of: Callable, space: str | None = None, drop_old: bool = False,
            progress: Progress | None = None, batch_size: int = 64) -> dict:
    """Re-embed space `space` of `col` (its own by default) with `model`, switch the
    name to the new space and, with `drop_old`, remove the old one. Returns
    {"alias", "from", "to", "model", "resumed", "embedded", "switched_with", "dropped"}:
    `embedded` counts the rows this run embedded (a resumed run: only the unfinished
    ones), `switched_with` those embedded inside the switching transaction."""
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise EmbkitError(f"batch_size: must be a positive integer, got {batch_size!r}")
    old = col.serving(space)
    store, source = old._store, old.space.name
    state = space_state(store)
    alias = next((name for name, target in state["space_aliases"].items() if target == source), source)
    target, resumed = _target(store, old, state, alias, model, space_of)
    if resumed:  # its vectors so far were embedded with the prompt it recorded
        check_document_prompt(store, target)
    else:
        record_prompt(store, target.name, declared_prompt(target.model, "document"))
    encoder = load_encoder(target.model)
    if getattr(encoder, "modality", "text") != "text":
        raise EmbkitError(f"model: {model!r} embeds {encoder.modality}; reembed embeds the stored texts again")

    def embed(texts: list[str]):
        vectors = encode_as(encoder, texts, "document", batch_size)  # stored texts are documents
        return l2_normalize(vectors) if target.metric == "cosine" else vectors

    try:
        embedded = _passes(store, source, target.name, embed, batch_size, progress)
        switched_with = store.switch_space(alias, source, target.name, embed)
    except EmbkitError as e:
        if "no stored text" not in str(e):
            raise
        _drop(store, target.name)  # it could never be completed
        raise EmbkitError(f"{e}; the partial space {target.name!r} was removed") from None
    if drop_old:
        _drop(store, source)
    return {"alias": alias, "from": source, "to": target.name, "model": target.model, "resumed": resumed,
            "embedded": embedded + switched_with, "switched_with": switched_with,
            "dropped": source if drop_old else None}


def _target(store, old, state: dict, alias: str, model: str, space_of: Callable):
    """(the space being built, resumed?): the unfinished one of an earlier run, or a new one."""
    building = state["reembeds"].get(old.space.name)
    if building is not None:
        space = store.spaces()[building]
        wanted = space_of(building, space.metric)
        if (wanted.model, wanted.dim) != (space.model, space.dim):
            raise EmbkitError(f"model: a reembed of {alias!r} into {building!r} with {space.model!r} is unfinished; "
                              f"run it again with --model {space.model} to finish it")
        return space, True
    taken = {*store.spaces(), *state["space_aliases"], *state["superseded"]}
    name = next(f"{alias}_v{n}" for n in range(2, 10_000) if f"{alias}_v{n}" not in taken)
    space = space_of(name, old.space.metric)
    if space.model == old.space.model and not _prompt_changed(store, old.space):
        raise EmbkitError(f"model: space {alias!r} holds vectors from {model!r} already")
    _remove_index_files(store, name)  # left by an earlier space of that name, if any
    store.start_reembed(old.space.name, space)
    if in_database(store):  # pgvector: its index, kept current by PostgreSQL as rows arrive
        index_manager(store, space, store.path / "index" / space.name).build("auto")
    return space, False


def _prompt_changed(store, space) -> bool:
    """Whether `space`'s model now declares another document prompt than its vectors
    were embedded with: then re-embedding with the same model is what brings them together."""
    current = declared_prompt(space.model, "document")
    return space_prompt(store, space.name, current) != current


def _passes(store, source: str, target: str, embed: Callable, batch_size: int, progress: Progress | None) -> int:
    """Embed the rows missing from `target`, a committed batch at a time, pass after pass
    until a pass finds at most one batch (the switch embeds the rest). Returns how many."""
    embedded = 0
    for _ in range(MAX_PASSES):
        seen, after = 0, 0
        while rows := store.missing_vectors(source, target, after, batch_size):
            refuse_textless(rows, source)
            embedded += store.add_vectors(target, rows, embed([text for _, text in rows]))
            seen, after = seen + len(rows), rows[-1][0]
            if progress is not None:
                progress(len(rows))
        if seen <= batch_size:
            break
    return embedded


def _drop(store, name: str) -> None:
    store.drop_space(name)
    forget_prompt(store, name)  # a later space of that name starts afresh
    _remove_index_files(store, name)


def _remove_index_files(store, name: str) -> None:
    shutil.rmtree(store.path / "index" / name, ignore_errors=True)


def pending(col, space: str | None = None) -> int:
    """How many rows a reembed of `space` would embed now (for a progress bar's total):
    those an unfinished run left, or every vector of the space."""
    old = col.serving(space)
    building = space_state(old._store)["reembeds"].get(old.space.name)
    return old._store.count_missing(old.space.name, building)
