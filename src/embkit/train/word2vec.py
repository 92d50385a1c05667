"""word2vec with gensim on the user's text files; the result is a static encoder.

Documents are a file's lines (`unit="line"`) or whole files (`unit="file"`), tokenized
as the static encoder reads text (runs of letters and digits, lowercased), so the words
that were trained are the words that are looked up. The output folder holds
`vectors.bin` (word2vec's binary format, loadable anywhere) and `embkit-train.json`
(settings and the checks below); it is written under a temporary name and renamed, so
an interrupted run never leaves a half-written model under the output name.

The checks compare the trained vectors with GloVe 6B 50d (the `before`, when
installed) on word similarity (WordSim-353, Spearman) and analogies (Google's
questions-words, 3CosAdd over the 30,000 most frequent words, as gensim reports it),
both from gensim's own test data: text the model did not train on."""

import shutil
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..encoders.static import WORD
from ..errors import EmbkitError
from .output import finish_output, prepare_output, write_summary

Progress = Callable[[int], None]
UNITS = ("line", "file")


def corpus_files(paths: list[str | Path]) -> list[Path]:
    """The text files named, folders walked (sorted, hidden files left out)."""
    files = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            raise EmbkitError(f"corpus: {path} not found")
    if not files:
        raise EmbkitError("corpus: no text files found")
    return files


def documents(files: list[Path], unit: str) -> Iterator[list[str]]:
    """Token lists, one per line or per file."""
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for doc in (text.splitlines() if unit == "line" else [text]):
            tokens = WORD.findall(doc.lower())
            if tokens:
                yield tokens


class _Corpus:
    """Re-iterable (gensim reads the corpus once per epoch plus once for the vocabulary)."""

    def __init__(self, files: list[Path], unit: str):
        self.files, self.unit = files, unit

    def __iter__(self):
        return documents(self.files, self.unit)


def train_word2vec(corpus: list[str | Path], out: str | Path, *, sg: bool = False, dim: int = 100, window: int = 5,
                   min_count: int = 5, epochs: int = 5, unit: str = "line", seed: int = 0, overwrite: bool = False,
                   progress: Progress | None = None) -> dict:
    """Train, save `out/vectors.bin`, check against GloVe; returns the summary."""
    _check(dim, window, min_count, epochs, unit)
    files = corpus_files(corpus)
    out = Path(out).expanduser()
    staging = prepare_output(out, overwrite)
    started = time.perf_counter()
    from gensim.models import Word2Vec
    from gensim.models.callbacks import CallbackAny2Vec

    class _Epochs(CallbackAny2Vec):
        def on_epoch_end(self, model):
            if progress:
                progress(1)

    sentences = _Corpus(files, unit)
    try:
        # one worker: gensim is only reproducible for a fixed seed single-threaded
        model = Word2Vec(sentences=sentences, vector_size=dim, window=window, min_count=min_count, sg=int(sg),
                         epochs=epochs, seed=seed, workers=1, callbacks=[_Epochs()])
    except RuntimeError as e:  # gensim: "you must first build vocabulary before training the model"
        shutil.rmtree(staging, ignore_errors=True)
        raise EmbkitError(f"min_count: no word occurs {min_count} times in the corpus; lower --min-count") from e
    trained = time.perf_counter() - started
    model.wv.save_word2vec_format(str(staging / "vectors.bin"), binary=True)
    summary = {"kind": "word2vec", "files": len(files), "unit": unit, "documents": model.corpus_count,
               "tokens": model.corpus_total_words, "vocabulary": len(model.wv), "sg": bool(sg), "dim": dim,
               "window": window, "min_count": min_count, "epochs": epochs, "seed": seed,
               "seconds": round(trained, 1), "evaluation": word_checks(model.wv)}
    write_summary(staging, summary)
    finish_output(staging, out)
    return summary


def word_checks(trained) -> dict:
    """WordSim-353 Spearman and analogy accuracy of the trained vectors and of GloVe
    50d (`before`), on the same test files."""
    from gensim.test.utils import datapath

    after = _scores(trained, datapath("wordsim353.tsv"), datapath("questions-words.txt"))
    try:
        from gensim.models import KeyedVectors

        from ..encoders import load_encoder

        glove = load_encoder("glove-50d")
        before_kv = KeyedVectors(glove.dim)
        before_kv.add_vectors(glove.vocab, glove.vectors)
        before = _scores(before_kv, datapath("wordsim353.tsv"), datapath("questions-words.txt"))
    except EmbkitError:  # GloVe not installed: no reference
        before = None
    return {"before": before, "before_model": "glove-50d", "after": after,
            "data": "gensim test data: wordsim353.tsv, questions-words.txt (30,000 most frequent words)"}


def _scores(kv, wordsim: str, analogies: str) -> dict:
    import logging

    logging.getLogger("gensim").setLevel(logging.ERROR)  # gensim logs every section
    pearson, spearman, oov = kv.evaluate_word_pairs(wordsim)
    accuracy, sections = kv.evaluate_word_analogies(analogies, restrict_vocab=30_000)
    total = next((s for s in sections if s["section"] == "Total accuracy"), {"correct": [], "incorrect": []})
    asked = len(total["correct"]) + len(total["incorrect"])
    return {"wordsim353_spearman": round(float(spearman[0]), 4) if not np.isnan(spearman[0]) else None,
            "wordsim353_oov_percent": round(float(oov), 1), "analogy_accuracy": round(float(accuracy), 4),
            "analogies_answerable": asked}


def _check(dim, window, min_count, epochs, unit) -> None:
    for field, value, low, high in (("dim", dim, 2, 2048), ("window", window, 1, 100),
                                    ("min_count", min_count, 1, 1_000_000), ("epochs", epochs, 1, 1000)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise EmbkitError(f"{field}: must be an integer from {low} to {high}, got {value!r}")
    if unit not in UNITS:
        raise EmbkitError(f"unit: must be one of {', '.join(UNITS)}, got {unit!r}")
