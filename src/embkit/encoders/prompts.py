"""Prompts by role: the text an instruction-tuned model expects before a query or a
document ("query: " / "passage: " for E5). An encoder may carry `prompts`, a dict
role -> text (a missing or empty role: no prompt); every door embeds through
`encode_as` here, so the same text in the same role gives the same vector whichever
door it came through. Role None means the raw text, as given.

A model folder declares its prompts as sentence-transformers does, in
config_sentence_transformers.json (`prompts`, `default_prompt_name`); a catalog entry
in its `prompts` field. Both are read here and nowhere else, with or without loading
the model (the chunker and the embedding cache need them before any model loads)."""

import contextlib
import contextvars
import functools
import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..errors import EmbkitError
from .base import Progress
from .catalog import CATALOG, CatalogEntry
from .model_folders import named_folder
from .tokenizer_files import regular_file_identity

ROLES = ("query", "document")
ST_CONFIG = "config_sentence_transformers.json"
# sentence-transformers' prompt names per role, in the order its encode_query /
# encode_document look for them
_ST_NAMES = {"query": ("query",), "document": ("document", "passage", "corpus")}
_ALIASES = {"query": "query", "document": "document", "passage": "document"}
_OFF = contextvars.ContextVar("embkit_prompts_off", default=False)


@contextlib.contextmanager
def unprompted():
    """Within it (this thread), every model embeds texts as given, as if it declared
    no prompts: the chunker, the embedding cache's key and every door agree. For
    measuring what a missing prompt costs (`embkit eval retrieval --no-prompts`)."""
    token = _OFF.set(True)
    try:
        yield
    finally:
        _OFF.reset(token)


def check_role(role, field: str = "role") -> str | None:
    """`role` as one of ROLES (or None: raw text); "passage" is read as "document"."""
    if role is None:
        return None
    if not isinstance(role, str) or role not in _ALIASES:
        raise EmbkitError(f"{field}: must be one of query, document (or passage), got {role!r}")
    return _ALIASES[role]


def prompt_for(encoder, role: str | None) -> str:
    """The text `encoder` wants before a text of `role` ("" for none, or role None)."""
    role = check_role(role)
    if role is None or _OFF.get():
        return ""
    prompts = getattr(encoder, "prompts", None) or {}
    return prompts.get(role) or ""


def with_prompt(encoder, texts: Sequence[str], role: str | None) -> list[str]:
    """`texts` as the model reads them in `role`: each with its prompt before it."""
    prompt = prompt_for(encoder, role)
    return [prompt + t for t in texts] if prompt else list(texts)


def encode_as(encoder, texts: Sequence[str], role: str | None, batch_size: int = 32,
              progress: Progress | None = None) -> np.ndarray:
    """`encoder.encode` of `texts` in `role` (the one way every door embeds text)."""
    return encoder.encode(with_prompt(encoder, texts, role), batch_size=batch_size, progress=progress)


def role_prompts(prompts: Mapping, default_name: str | None = None, where: str = "prompts") -> dict[str, str]:
    """Role -> prompt from sentence-transformers' named prompts: a role takes the first
    of its names present (even an empty one), else the default prompt, as
    sentence-transformers' encode_query / encode_document do. Other names (task
    instructions such as "classification") are not a role's and are left out."""
    if not isinstance(prompts, Mapping) or not all(isinstance(k, str) for k in prompts):
        raise EmbkitError(f"{where}: must be an object of prompt name -> text, got {prompts!r}")
    prompts = {k: "" if v is None else v for k, v in prompts.items()}
    bad = next((k for k, v in prompts.items() if not isinstance(v, str)), None)
    if bad is not None:
        raise EmbkitError(f"{where}: prompt {bad!r} must be a text, got {prompts[bad]!r}")
    if default_name is not None and default_name not in prompts:
        raise EmbkitError(f"{where}: default_prompt_name {default_name!r} is not one of the prompts "
                          f"({', '.join(prompts) or 'none'})")
    found = {}
    for role, names in _ST_NAMES.items():
        name = next((n for n in names if n in prompts), default_name)
        if name is not None and prompts[name]:
            found[role] = prompts[name]
    return found


def folder_prompts(folder: Path) -> dict[str, str]:
    """Role -> prompt of a model folder (its config_sentence_transformers.json), {} if none.
    Every add reads them (chunking, the prompt check, the cache key), so a file is parsed
    once and again only when rewritten: keyed by its identity, as the shared tokenizer is."""
    path = Path(folder) / ST_CONFIG
    identity = regular_file_identity(path)
    return {} if identity is None else dict(_file_prompts(str(path), identity))


@functools.lru_cache(maxsize=32)
def _file_prompts(name: str, identity: str) -> dict[str, str]:
    path = Path(name)
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:  # removed since its identity was taken (a folder being replaced): no prompts
        return {}
    except (OSError, ValueError) as e:
        raise EmbkitError(f"model: {path} is not readable JSON ({e})") from None
    if not isinstance(config, dict):
        raise EmbkitError(f"model: {path} must hold a JSON object")
    return role_prompts(config.get("prompts") or {}, config.get("default_prompt_name"), where=f"{path}: prompts")


def entry_prompts(entry: CatalogEntry) -> dict[str, str]:
    """Role -> prompt of a catalog entry (its `prompts` pairs; empty texts left out)."""
    return {check_role(role, f"catalog {entry.name}: prompts"): text for role, text in entry.prompts if text}


def declared_prompts(model: str) -> dict[str, str]:
    """Role -> prompt of a model named as `load_encoder` takes it (a catalog name, a
    registered trained model or a folder), without loading it: what its encoder
    carries. A word-vector file or an unknown name has none (nor has any model
    inside `unprompted`)."""
    if _OFF.get():
        return {}
    entry = CATALOG.get(model)
    if entry is not None:
        return entry_prompts(entry)
    path = named_folder(model)
    return folder_prompts(path) if path.is_dir() else {}


def declared_prompt(model: str, role: str | None) -> str:
    """The prompt `model` declares for `role` ("" for none), without loading it."""
    role = check_role(role)
    return "" if role is None else declared_prompts(model).get(role, "")


def prompt_tokens(tokenizer, prompt: str) -> int:
    """Tokens `prompt` takes before a text (no special tokens): room the chunker leaves."""
    return len(tokenizer.encode(prompt, add_special_tokens=False).ids) if prompt else 0
