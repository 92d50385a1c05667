"""`embkit tokens` and `embkit contextual` on the packaged MiniLM: the pieces and ids
are the tokenizer's own (checked against transformers), the matrix shape is read from
the weights, token vectors equal sentence-transformers' token embeddings, and a
polysemous word's contextual vectors follow its sense while its static row does not."""

import json
import subprocess
import sys

import numpy as np
import pytest

import embkit
from embkit.encoders.word_pieces import contextual, model_folder, tokens
from embkit.errors import EmbkitError

MONEY_1 = "I deposited my salary at the bank."
RIVER = "We had a picnic on the river bank."
MONEY_2 = "The bank approved the loan."


def test_pieces_and_ids_are_the_tokenizers_own():
    transformers = pytest.importorskip("transformers")
    text = "Embeddings are unbelievably useful, naïve café-goers!"
    result = tokens(text)
    reference = transformers.AutoTokenizer.from_pretrained(str(model_folder("minilm")))
    assert [p.id for p in result["pieces"]] == reference(text)["input_ids"]
    assert [p.piece for p in result["pieces"]][:5] == ["[CLS]", "em", "##bed", "##ding", "##s"]
    assert result["vocabulary"] == 30522 and result["embedding_matrix"] == [30522, 384]
    assert "".join(text[p.start:p.end] for p in result["pieces"][1:3]) == "Embed"


def test_token_vectors_equal_sentence_transformers_token_embeddings():
    pytest.importorskip("sentence_transformers")
    from sentence_transformers import SentenceTransformer

    ours = embkit.load_encoder("minilm").token_states(RIVER)
    reference = SentenceTransformer(str(model_folder("minilm")), device="cpu").encode(
        RIVER, output_value="token_embeddings")
    reference = np.asarray(reference)
    assert ours.shape == reference.shape
    cos = np.sum(ours * reference, axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(reference, axis=1))
    assert cos.min() > 0.9999


def test_contextual_vectors_follow_the_sense_and_static_rows_do_not():
    result = contextual("bank", [MONEY_1, RIVER, MONEY_2])
    c = np.array(result["contextual_cosine"])
    assert c[0, 2] > c[0, 1] and c[0, 2] > c[1, 2]  # the two money senses are closest
    assert np.allclose(result["static_cosine"], 1.0)
    assert result["pieces"] == ["bank"]


def test_a_word_of_several_pieces_is_found_and_averaged():
    result = contextual("embeddings", ["Embeddings map text to vectors.", "We store the embeddings on disk."])
    assert result["pieces"] == ["em", "##bed", "##ding", "##s"]
    assert 0 < result["contextual_cosine"][0][1] < 1


def test_bad_input_is_refused_with_the_field_named():
    with pytest.raises(EmbkitError, match="sentence 2"):
        contextual("bank", [MONEY_1, "No such word here."])
    with pytest.raises(EmbkitError, match="at least two"):
        contextual("bank", [MONEY_1])
    with pytest.raises(EmbkitError, match="word"):
        contextual("  ", [MONEY_1, RIVER])
    with pytest.raises(EmbkitError, match="static word-vector"):
        tokens("hello", model="glove-50d")
    with pytest.raises(EmbkitError, match="not a transformer folder"):
        tokens("hello", model="/no/such/model")
    with pytest.raises(EmbkitError, match="text"):
        tokens("")


def test_cli_tokens_json_and_contextual_text():
    done = subprocess.run([sys.executable, "-m", "embkit.cli", "tokens", "river bank", "--json"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert [p["piece"] for p in out["pieces"]] == ["[CLS]", "river", "bank", "[SEP]"]
    assert out["embedding_matrix"] == [30522, 384]
    done = subprocess.run([sys.executable, "-m", "embkit.cli", "contextual", "bank", MONEY_1, RIVER],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "sentences 1 and 2: contextual cosine 0." in done.stdout and "static cosine 1.0000" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "embkit.cli", "contextual", "bank", MONEY_1, "no match"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "sentence 2" in bad.stderr
