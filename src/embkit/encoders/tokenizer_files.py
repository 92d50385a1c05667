"""The encoder's own tokenizer, for counting tokens the way the model will, loaded from
the model's tokenizer.json without loading the model (no onnxruntime, no torch)."""

import functools
import json
from pathlib import Path

from ..errors import EmbkitError
from .catalog import CATALOG, DEFAULT_MODEL, package_dir
from .model_folders import named_folder
from .static import WORD_VECTOR_SUFFIXES


def tokenizer_path(model: str) -> Path:
    """Where the tokenizer.json of a catalog name, a registered name or a model folder is."""
    entry = CATALOG.get(model)
    if entry is not None:
        path = package_dir(entry.module) / "model" / "tokenizer.json"
    else:
        path = named_folder(model) / "tokenizer.json"
    if not path.is_file():
        raise EmbkitError(f"model: no tokenizer.json for {model!r} (looked at {path})")
    return path


def reads_whole_texts(model: str) -> bool:
    """A static word-vector model has no tokenizer and no length limit: it averages
    the words of any text, so documents are not chunked for it."""
    entry = CATALOG.get(model)
    if entry is not None:
        return entry.backend == "static"
    path = named_folder(model)
    return path.suffix.lower() in WORD_VECTOR_SUFFIXES or (path / "vectors.bin").is_file()


def model_max_tokens(model: str) -> int | None:
    """How many tokens the model reads before it truncates (None when unknown)."""
    if model in CATALOG:
        return CATALOG[model].max_tokens
    config = named_folder(model) / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text()).get("max_seq_length", 256))
    return None


def plain(tokenizer):
    """A copy of `tokenizer` that neither truncates nor pads (the packaged MiniLM
    tokenizer.json truncates and pads to 128, which would make every count wrong)."""
    from tokenizers import Tokenizer

    copy = Tokenizer.from_str(tokenizer.to_str())
    copy.no_truncation()
    copy.no_padding()
    return copy


@functools.lru_cache(maxsize=8)
def _load(path: str):
    from tokenizers import Tokenizer

    return plain(Tokenizer.from_file(path))


def encoder_tokenizer(model=DEFAULT_MODEL):
    """The `tokenizers.Tokenizer` of `model` (a catalog name, a model folder, or an
    encoder object that exposes its tokenizer), without truncation or padding. Loaded
    once per file and shared: do not reconfigure it."""
    if not isinstance(model, (str, Path)):
        own = getattr(model, "tokenizer", None)
        if own is not None and hasattr(own, "to_str"):
            return plain(own)  # the encoder's own copy truncates at its max_tokens
        model = getattr(model, "name", None)
        if not isinstance(model, str):
            raise EmbkitError("model: this encoder exposes no tokenizer")
    if str(model) == "none":
        raise EmbkitError("model: this collection has no model, so there is no tokenizer to count tokens with")
    return _load(str(tokenizer_path(str(model))))
