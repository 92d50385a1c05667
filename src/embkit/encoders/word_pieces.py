"""A look inside a transformer encoder: the word pieces a text becomes, the embedding
matrix they index, and contextual against static vectors of one word (polysemy: a
word's input-embedding row is the same in every sentence, its contextual vector is not)."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EmbkitError
from ..validate import MAX_TEXT_CHARS
from .loader import load_encoder
from .model_folders import transformer_folder
from .safetensors_reader import read_tensor, tensor_shapes

EMBEDDING_KEY = "word_embeddings.weight"  # BERT's input-embedding matrix (any prefix)


@dataclass
class Piece:
    piece: str
    id: int
    start: int  # character offsets into the text ([CLS]/[SEP]: 0, 0)
    end: int


def model_folder(model: str) -> Path:
    """The folder holding a transformer's weights and tokenizer.json."""
    folder = transformer_folder(model)
    if not (folder / "tokenizer.json").is_file() or not (folder / "model.safetensors").is_file():
        raise EmbkitError(f"model: {model!r} is not a transformer folder with tokenizer.json and model.safetensors")
    return folder


def _check_text(field: str, text) -> str:
    if not isinstance(text, str) or not text.strip():
        raise EmbkitError(f"{field}: must be a non-empty string")
    if len(text) > MAX_TEXT_CHARS:
        raise EmbkitError(f"{field}: {len(text)} characters, more than the limit of {MAX_TEXT_CHARS}")
    return text


def _tokenizer(folder: Path):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()  # some files pad to a fixed length; the pieces of the text are what matter here
    tokenizer.no_truncation()  # the encoder truncates; a word past its limit is reported, not hidden
    return tokenizer


def tokens(text: str, model: str = "minilm") -> dict:
    """The pieces (with ids and offsets), the vocabulary size and the embedding-matrix
    shape (vocabulary × dimension) of `model`'s input layer."""
    _check_text("text", text)
    folder = model_folder(model)
    tokenizer = _tokenizer(folder)
    encoding = tokenizer.encode(text)
    pieces = [Piece(p, i, s, e) for p, i, (s, e) in zip(encoding.tokens, encoding.ids, encoding.offsets)]
    return {"model": model, "text": text, "pieces": pieces, "vocabulary": tokenizer.get_vocab_size(),
            "embedding_matrix": list(_embedding_shape(folder))}


def _embedding_key(names) -> str:
    keys = [k for k in names if k.endswith(EMBEDDING_KEY)]
    if len(keys) != 1:
        raise EmbkitError(f"model: expected one {EMBEDDING_KEY} tensor in model.safetensors, found {len(keys)}")
    return keys[0]


def _embedding_shape(folder: Path) -> tuple[int, int]:
    shapes = tensor_shapes(folder / "model.safetensors")  # the header only: no weights read
    return tuple(shapes[_embedding_key(shapes)])


def contextual(word: str, sentences: list[str], model: str = "minilm") -> dict:
    """The word's contextual vector in each sentence (the mean of the last layer's
    vectors of its pieces) and its static vector (the mean of their input-embedding
    rows), with the cosines between the sentences' contextual vectors."""
    _check_text("word", word)
    if not isinstance(sentences, list) or len(sentences) < 2:
        raise EmbkitError("sentences: give at least two sentences to compare")
    for i, sentence in enumerate(sentences, 1):
        _check_text(f"sentence {i}", sentence)
    folder = model_folder(model)
    tokenizer = _tokenizer(folder)
    word_pieces = tokenizer.encode(word, add_special_tokens=False)
    spans = []  # (the sentence's ids, where the word's pieces start)
    for i, sentence in enumerate(sentences, 1):
        ids = tokenizer.encode(sentence).ids
        at = _find(ids, word_pieces.ids)
        if at is None:
            raise EmbkitError(f"sentence {i}: {word!r} (pieces {word_pieces.tokens}) does not occur in {sentence!r}")
        spans.append((ids, at))
    encoder = load_encoder(model)
    if not hasattr(encoder, "token_states"):
        raise EmbkitError(f"model: {model!r} does not expose token vectors (an ONNX transformer is needed)")
    weights = folder / "model.safetensors"
    table = read_tensor(weights, _embedding_key(tensor_shapes(weights)))  # only the input-embedding matrix
    contextual_vectors, static_vectors = [], []
    width = len(word_pieces.ids)
    for i, (sentence, (ids, start)) in enumerate(zip(sentences, spans), 1):
        states = encoder.token_states(sentence)
        if start + width > len(states):
            raise EmbkitError(f"sentence {i}: {word!r} lies beyond the {len(states)} pieces the model reads")
        contextual_vectors.append(states[start:start + width].mean(axis=0))
        static_vectors.append(table[ids[start:start + width]].mean(axis=0))
    return {"model": model, "word": word, "pieces": word_pieces.tokens, "sentences": sentences,
            "contextual_cosine": _cosines(np.stack(contextual_vectors)),
            "static_cosine": _cosines(np.stack(static_vectors))}


def _cosines(vectors: np.ndarray) -> list[list[float]]:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.clip(unit @ unit.T, -1, 1).round(6).tolist()


def _find(ids: list[int], sub: list[int]) -> int | None:
    for start in range(len(ids) - len(sub) + 1):
        if ids[start:start + len(sub)] == sub:
            return start
    return None
