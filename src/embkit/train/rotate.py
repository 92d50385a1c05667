"""PCA rotation of a trained bi-encoder: an orthogonal map appended after pooling that
orders the output dimensions by how much of the corpus's variance they carry, so a
prefix (Matryoshka truncation) keeps more. A rotation changes no full-dimension
cosine, so full-dimension search is unchanged; only truncated search moves.

It is fit on texts alone (a BEIR corpus's documents or a text file), never on queries
or judgments, and takes minutes: the texts are embedded once and decomposed."""

import json
import random
import shutil
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import EmbkitError
from .evaluation import EvalData, compare
from .output import finish_output, prepare_output, read_summary, write_summary

ROTATION_FOLDER = "2_Rotation"
DEFAULT_DIMS = (256, 128, 64)
MIN_TEXTS = 2  # below the dimension the tail components are arbitrary but still orthogonal

Progress = Callable[[int], None]


def train_rotate(out: str | Path, model: str, *, beir: str | Path | None = None, texts: str | Path | None = None,
                 max_texts: int = 20000, seed: int = 0, dims: Sequence[int] = (), name: str | None = None,
                 overwrite: bool = False, evaluation: EvalData | None = None, progress: Progress | None = None,
                 on_texts: Callable[[int], None] | None = None) -> dict:
    """Fit the rotation on `beir`'s corpus or the `texts` file, save the rotated model to
    `out`, register it, and evaluate before/after (full dimension and each of `dims`)."""
    from ..encoders import load_encoder
    from ..encoders.dense_layer import dense_modules, write_projection

    source, matryoshka = _source(model)
    if dense_modules(source):
        raise EmbkitError(f"model: {source} already ends in a Dense module (rotated or projected); "
                          "rotate the model it came from")
    if isinstance(max_texts, bool) or not isinstance(max_texts, int) or not MIN_TEXTS <= max_texts <= 10_000_000:
        raise EmbkitError(f"max_texts: must be an integer from {MIN_TEXTS} to 10000000, got {max_texts!r}")
    sample, fit_on = _texts(beir, texts, max_texts, seed)
    encoder = load_encoder(model)
    eval_dims = sorted({int(d) for d in (dims or matryoshka or DEFAULT_DIMS)}, reverse=True)
    bad = [d for d in eval_dims if not 1 <= d <= encoder.dim]
    if bad:
        raise EmbkitError(f"dims: dimension {bad[0]} is outside 1..{encoder.dim} (the model's dimension)")
    out = Path(out).expanduser()
    staging = prepare_output(out, overwrite)
    try:
        on_texts and on_texts(len(sample))
        started = time.perf_counter()
        vectors = encoder.encode(sample, progress=progress)
        components, variance = pca_rotation(vectors)
        model_dir = staging / "model"
        shutil.copytree(source, model_dir, ignore=shutil.ignore_patterns("embkit-train.json", "checkpoints"))
        write_projection(model_dir, components, ROTATION_FOLDER)
        seconds = time.perf_counter() - started
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    kept = np.cumsum(variance) / variance.sum()
    summary = {"kind": "rotate", "base": model, "fit_on": fit_on, "texts": len(sample), "seed": seed,
               "matryoshka": matryoshka, "variance_kept": {str(d): round(float(kept[d - 1]), 4) for d in eval_dims},
               "seconds": round(seconds, 1)}
    write_summary(model_dir, summary)
    finish_output(model_dir, out)
    shutil.rmtree(staging, ignore_errors=True)
    from ..encoders.registry import register

    summary["name"] = register(name or out.name, out, matryoshka)
    if evaluation is not None:
        summary["evaluation"] = compare(model, str(out), evaluation, [d for d in eval_dims if d < encoder.dim])
    write_summary(out, summary)
    return summary


def pca_rotation(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(components, variance): a square orthogonal matrix whose rows are the principal
    axes of `vectors` (largest variance first), each signed so its largest entry is
    positive (a fixed sign makes the result reproducible), and the variance along each."""
    x = np.asarray(vectors, dtype=np.float64)
    centred = x - x.mean(axis=0)
    # eigh of the covariance gives all d axes even when there are fewer texts than dims
    variance, axes = np.linalg.eigh(centred.T @ centred / max(len(x) - 1, 1))
    order = np.argsort(-variance, kind="stable")
    components = axes[:, order].T
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    components *= np.where(signs == 0, 1, signs)[:, None]
    return components.astype(np.float32), np.clip(variance[order], 0, None)


def _source(model: str) -> tuple[Path, list[int]]:
    """The model's folder (a registered name, a folder or a catalog transformer) and its
    Matryoshka dimensions (from the registry or its training summary)."""
    from ..encoders.model_folders import transformer_folder
    from ..encoders.registry import resolve

    entry = None if Path(model).expanduser().exists() else resolve(model)
    folder = transformer_folder(model)
    if not (folder / "modules.json").is_file():
        raise EmbkitError(f"model: {folder} is not a sentence-transformers folder (no modules.json)")
    summary = read_summary(folder) or {}
    return folder, list(entry["matryoshka"] if entry else summary.get("matryoshka") or [])


def _texts(beir, texts, max_texts: int, seed: int) -> tuple[list[str], str]:
    if (beir is None) == (texts is None):
        raise EmbkitError("texts: give exactly one of a BEIR folder (--beir, its corpus) or a text file (--texts)")
    if beir is not None:
        from ..evaluate.beir import _read_jsonl

        corpus_file = Path(beir) / "corpus.jsonl"
        if not corpus_file.is_file():
            raise EmbkitError(f"beir: {corpus_file} not found")
        corpus = _read_jsonl(corpus_file, ("_id",))
        found = [f"{d.get('title') or ''} {d.get('text') or ''}".strip() for d in corpus.values()]  # as doc_text
        where = f"{corpus_file} (documents only)"
    else:
        path = Path(texts)
        if not path.is_file():
            raise EmbkitError(f"texts: {path} not found")
        found = _read_texts(path)
        where = str(path)
    found = [t for t in found if t.strip()]
    if len(found) < MIN_TEXTS:
        raise EmbkitError(f"texts: need at least {MIN_TEXTS} non-empty texts to fit a rotation, found {len(found)}")
    if len(found) > max_texts:
        found = random.Random(seed).sample(found, max_texts)
    return found, where


def _read_texts(path: Path) -> list[str]:
    """One text a line; a .jsonl file gives each line's "text" field."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if path.suffix != ".jsonl":
        return lines
    out = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            text = json.loads(line)["text"]
        except (ValueError, KeyError, TypeError):
            raise EmbkitError(f"texts: {path} line {number} is not a JSON object with a \"text\" field") from None
        if not isinstance(text, str):
            raise EmbkitError(f"texts: {path} line {number}: \"text\" must be a string")
        out.append(text)
    return out
