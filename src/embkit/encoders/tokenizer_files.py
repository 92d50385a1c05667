"""The encoder's own tokenizer, for counting tokens the way the model will, loaded from
the model's tokenizer.json without loading the model (no onnxruntime, no torch)."""

import functools
import json
import stat
from pathlib import Path
from types import MappingProxyType

from ..errors import EmbkitError
from .catalog import CATALOG, DEFAULT_MODEL
from .model_folders import catalog_folder, named_folder
from .onnx_weights import file_identity
from .static import WORD_VECTOR_SUFFIXES


def tokenizer_path(model: str) -> Path:
    """Where the tokenizer.json of a catalog name, a registered name or a model folder is."""
    entry = CATALOG.get(model)
    if entry is not None:
        path = catalog_folder(entry) / "tokenizer.json"
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
    folder = named_folder(model)
    if (folder / "sentence_bert_config.json").is_file() or _json(folder / "config.json").get("model_type") in GRAPHED:
        return folder_max_tokens(folder)  # as the folder loader reads it, so chunks fit what it reads
    return None


FOLDER_DEFAULT_TOKENS = 256  # a folder that states no window: what embkit has always read
GRAPHED = ("bert", "roberta", "xlm-roberta")  # checkpoints the folder loader runs (bert_graph.MODEL_TYPES)


def folder_max_tokens(folder: Path) -> int:
    """The window of a model folder, as sentence-transformers reads it:
    sentence_bert_config.json's `max_seq_length` (sentence-transformers < 5), else
    tokenizer_config.json's `model_max_length` (where newer versions keep it), else the
    positions config.json's model has (as sentence-transformers 5 caps an unstated
    window), else 256; never more than those positions (RoBERTa's start after the
    padding index, so 514 positions read 512 tokens)."""
    stated = _json(folder / "sentence_bert_config.json").get("max_seq_length")
    if not isinstance(stated, int) or stated < 1:
        stated = _json(folder / "tokenizer_config.json").get("model_max_length")
    if not isinstance(stated, int) or not 1 <= stated < 1_000_000:  # transformers writes 1e30 for "none"
        stated = None
    positions = _positions(_json(folder / "config.json"))
    if positions is None:
        return stated or FOLDER_DEFAULT_TOKENS
    return min(stated or positions, positions)


def _positions(config: dict) -> int | None:
    """How many tokens the model's position table numbers (None when config.json does not say)."""
    positions = config.get("max_position_embeddings")
    if not isinstance(positions, int) or positions < 1:
        return None
    pad = config.get("pad_token_id", 1)  # one the graph builder refuses is named there (check_config)
    if config.get("model_type") in ("roberta", "xlm-roberta") and isinstance(pad, int):
        positions -= pad + 1
    return positions if positions >= 1 else None


def _json(path: Path) -> dict:
    """A JSON object file's content; {} when it is missing or not an object. Each add
    reads a folder's window (chunking), so a file is parsed once per identity (read
    again when rewritten); the mapping is shared, so it is read-only."""
    identity = regular_file_identity(path)
    return {} if identity is None else _parsed(str(path), identity)


def regular_file_identity(path: Path) -> str | None:
    """`path`'s file_identity, None unless it is a regular file. One stat: a file removed
    between a check and a read (a model folder being replaced) is no file, not a traceback."""
    try:
        found = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return file_identity(found) if stat.S_ISREG(found.st_mode) else None


@functools.lru_cache(maxsize=64)
def _parsed(name: str, identity: str) -> dict:
    path = Path(name)
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:  # removed since its identity was taken (a folder being replaced): absent
        value = {}
    except OSError as e:
        raise EmbkitError(f"model: {path} cannot be read ({e.strerror or type(e).__name__})") from None
    except ValueError as e:
        raise EmbkitError(f"model: {path} is not valid JSON ({e})") from None
    return MappingProxyType(value if isinstance(value, dict) else {})


def plain(tokenizer):
    """A copy of `tokenizer` that neither truncates nor pads (the packaged MiniLM
    tokenizer.json truncates and pads to 128, which would make every count wrong)."""
    from tokenizers import Tokenizer

    copy = Tokenizer.from_str(tokenizer.to_str())
    copy.no_truncation()
    copy.no_padding()
    return copy


def shared_tokenizer(path):
    """The one `tokenizers.Tokenizer` of the tokenizer.json at `path` in this process,
    without truncation or padding, shared by the encoder (which cuts ids at its window
    itself, token_window.py), the chunker and every token count: one costs ~275 MiB for
    e5-small-multilingual's 250,002 pieces. Do not reconfigure it. A file rewritten
    since is read again: keyed by the file's identity (inode and ctime too), as a file
    copied over with its size and mtime kept (cp -p, rsync -t) is another file."""
    file = Path(path).resolve()
    return _load(str(file), file_identity(file.stat()))


@functools.lru_cache(maxsize=8)
def _load(path: str, identity: str):
    from tokenizers import Tokenizer

    try:  # any kind the tokenizers library reads: WordPiece, Unigram, BPE
        tokenizer = Tokenizer.from_file(path)
    except Exception as e:  # tokenizers raises plain Exceptions for a malformed file
        raise EmbkitError(f"model: {path} is not a tokenizer.json the tokenizers library reads "
                          f"({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def encoder_tokenizer(model=DEFAULT_MODEL):
    """The `tokenizers.Tokenizer` of `model` (a catalog name, a model folder, or an
    encoder object that exposes its tokenizer), without truncation or padding. Loaded
    once per file and shared: do not reconfigure it."""
    if not isinstance(model, (str, Path)):
        own = getattr(model, "tokenizer", None)
        if own is not None and hasattr(own, "to_str"):
            if own.truncation is None and own.padding is None:
                return own  # the shared one (shared_tokenizer): no copy
            return plain(own)  # an encoder whose own tokenizer truncates
        model = getattr(model, "name", None)
        if not isinstance(model, str):
            raise EmbkitError("model: this encoder exposes no tokenizer")
    if str(model) == "none":
        raise EmbkitError("model: this collection has no model, so there is no tokenizer to count tokens with")
    return shared_tokenizer(tokenizer_path(str(model)))
