"""What a user needs to know to use a model well, without loading it: the prompts it
expects per role, how it pools token vectors, the languages it was trained on and how
many tokens it reads (`embkit models` shows them)."""

from pathlib import Path

from ..errors import EmbkitError
from .catalog import CatalogEntry
from .pooling import read_pooling
from .prompts import entry_prompts, folder_prompts
from .tokenizer_files import folder_max_tokens


def entry_facts(entry: CatalogEntry) -> dict:
    """A catalog model's prompts (role -> text), pooling, languages and window (None for
    a word-vector model, which reads whole texts)."""
    static = entry.backend == "static"
    return {"prompts": entry_prompts(entry), "pooling": entry.pooling, "languages": list(entry.languages),
            "window": None if static else entry.max_tokens}


def folder_facts(folder: Path) -> dict:
    """The same for a model folder: read from its sentence-transformers files when it is
    a sentence-transformers folder; None where the folder does not say (languages, or
    everything for other kinds of folder). A setting embkit refuses is named, not raised."""
    facts = {"prompts": {}, "pooling": None, "languages": None, "window": None}
    folder = Path(folder)
    if not (folder / "modules.json").is_file() and not (folder / "sentence_bert_config.json").is_file():
        return facts
    for key, read in (("prompts", folder_prompts), ("pooling", read_pooling), ("window", folder_max_tokens)):
        try:
            facts[key] = read(folder)
        except EmbkitError as e:
            facts[key] = f"unsupported ({e})"
    return facts


def languages_label(languages: list[str] | None) -> str:
    """A short label: the codes when few, else how many ("94 languages")."""
    if not languages:
        return "-"
    return ",".join(languages) if len(languages) <= 4 else f"{len(languages)} languages"


def prompts_label(prompts: dict | str) -> str:
    """`query "query: ", document "passage: "`, or "-" for none."""
    if not isinstance(prompts, dict):
        return str(prompts)
    return ", ".join(f"{role} {text!r}" for role, text in prompts.items()) or "-"
