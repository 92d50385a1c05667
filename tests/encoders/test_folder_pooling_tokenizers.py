"""Any sentence-transformers folder: its pooling (mean, CLS, last token), its tokenizer.json
of any kind (WordPiece, Unigram, BPE) and RoBERTa-family position numbering give the
vectors SentenceTransformer(folder).encode gives, on tiny random models the test saves
with transformers + sentence-transformers. What embkit cannot reproduce is refused by name."""

import json
import shutil

import numpy as np
import pytest

from embkit.encoders import load_encoder
from embkit.encoders.pooling import read_pooling
from embkit.encoders.tokenizer_files import model_max_tokens
from embkit.errors import EmbkitError

from st_folder_maker import bert_folder, roberta_bpe_folder, xlmr_unigram_folder

TOLERANCE = 1e-5  # float32 rounding; measured <= 5e-7 on these models
TEXTS = ["Hello world", "Быстрая коричневая лиса", "東京は日本の首都です。", "x", "émoji 🙂 and digits 12345",
         "The quick brown fox jumps over the lazy dog " * 6,  # past the 24-token window: truncated alike
         "a literal <pad> and <s> inside",  # special tokens in the text: RoBERTa numbers <pad> as padding
         "   odd\twhitespace\n\nhere  "]


def _sentence_transformers(folder) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu").encode(TEXTS)


def _tokenizer_kind(folder) -> str:
    return json.loads((folder / "tokenizer.json").read_text())["model"]["type"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("st-folders")
    return {"xlmr-unigram-mean": xlmr_unigram_folder(root / "xlmr-unigram-mean", "mean"),
            "bert-cls": bert_folder(root / "bert-cls", "cls"),
            "roberta-bpe-lasttoken": roberta_bpe_folder(root / "roberta-bpe-lasttoken", "lasttoken")}


@pytest.mark.parametrize("name, kind, model_type, pooling", [
    ("xlmr-unigram-mean", "Unigram", "xlm-roberta", "mean"),
    ("bert-cls", "WordPiece", "bert", "cls"),
    ("roberta-bpe-lasttoken", "BPE", "roberta", "lasttoken"),
])
def test_a_folder_embeds_as_sentence_transformers_does(folders, name, kind, model_type, pooling):
    folder = folders[name]
    assert _tokenizer_kind(folder) == kind
    assert json.loads((folder / "config.json").read_text())["model_type"] == model_type
    encoder = load_encoder(str(folder))
    assert (encoder.pooling, encoder.max_tokens, encoder.normalized) == (pooling, 24, True)
    np.testing.assert_allclose(encoder.encode(TEXTS), _sentence_transformers(folder), atol=TOLERANCE)


def test_the_window_is_read_where_sentence_transformers_keeps_it(folders):
    """sentence-transformers 5+ keeps the window in tokenizer_config.json, not in
    sentence_bert_config.json; the chunker reads the same window as the encoder."""
    folder = folders["xlmr-unigram-mean"]
    assert "max_seq_length" not in json.loads((folder / "sentence_bert_config.json").read_text())
    assert model_max_tokens(str(folder)) == 24
    assert load_encoder(str(folder)).token_counts(TEXTS)[5] == 24


def test_older_pooling_configs_are_read(folders, tmp_path):
    """The boolean keys older sentence-transformers versions wrote select the same mode."""
    folder = tmp_path / "legacy"
    shutil.copytree(folders["bert-cls"], folder)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": 32, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}))
    assert read_pooling(folder) == "cls"
    np.testing.assert_allclose(load_encoder(str(folder)).encode(TEXTS), _sentence_transformers(folder),
                               atol=TOLERANCE)
    shutil.rmtree(folder / "1_Pooling")
    (folder / "modules.json").write_text("[]")
    assert read_pooling(folder) == "mean"  # no Pooling module: sentence-transformers' default


@pytest.mark.parametrize("config, message", [
    ({"pooling_mode": "max"}, "pooling_mode 'max' is not supported (supported: mean, cls, lasttoken)"),
    ({"pooling_mode": ["cls", "mean"]}, "pooling_mode ['cls', 'mean'] concatenates several poolings"),
    ({"pooling_mode_weightedmean_tokens": True}, "pooling_mode 'weightedmean' is not supported"),
    ({"pooling_mode": "mean", "include_prompt": False}, "include_prompt false"),
    ({"pooling_mode": 3}, "pooling_mode must be a mode name or a list of them, got 3"),
])
def test_a_pooling_embkit_cannot_reproduce_is_refused_by_name(folders, tmp_path, config, message):
    folder = tmp_path / "odd-pooling"
    shutil.copytree(folders["bert-cls"], folder)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(config))
    with pytest.raises(EmbkitError, match=r"^model: .*1_Pooling/config.json ") as error:
        load_encoder(str(folder))
    assert message in str(error.value)


def test_an_unsupported_checkpoint_or_tokenizer_is_refused_by_name(folders, tmp_path):
    folder = tmp_path / "odd-model"
    shutil.copytree(folders["bert-cls"], folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))
    with pytest.raises(EmbkitError, match="model_type 'gpt2' is not supported .supported: bert, xlm-roberta, roberta"):
        load_encoder(str(folder))
    (folder / "config.json").write_text(json.dumps({**config, "position_embedding_type": "relative_key"}))
    with pytest.raises(EmbkitError, match="position_embedding_type 'relative_key' is not supported"):
        load_encoder(str(folder))
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "tokenizer.json").write_text('{"model": {"type": "Nonsense"}}')
    with pytest.raises(EmbkitError, match=r"tokenizer.json is not a tokenizer.json the tokenizers library reads"):
        load_encoder(str(folder))


def test_embkit_models_shows_window_pooling_languages_and_prompts(folders, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from embkit.cli import app
    from embkit.encoders.registry import register

    monkeypatch.setenv("EMBKIT_HOME", str(tmp_path / "home"))  # a private registry
    folder = tmp_path / "prompted"
    shutil.copytree(folders["xlmr-unigram-mean"], folder)
    settings = json.loads((folder / "config_sentence_transformers.json").read_text())
    settings["prompts"] = {"query": "query: ", "passage": "passage: "}
    (folder / "config_sentence_transformers.json").write_text(json.dumps(settings))
    register("tiny-xlmr", folder, [])
    register("tiny-bert-cls", folders["bert-cls"], [])
    listed = CliRunner().invoke(app, ["models", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {r["name"]: r for r in json.loads(listed.stdout)["models"]}
    assert {k: rows["tiny-xlmr"][k] for k in ("window", "pooling", "languages", "prompts")} == {
        "window": 24, "pooling": "mean", "languages": None,
        "prompts": {"query": "query: ", "document": "passage: "}}
    assert (rows["tiny-bert-cls"]["pooling"], rows["tiny-bert-cls"]["prompts"]) == ("cls", {})
    assert {k: rows["minilm"][k] for k in ("window", "pooling", "languages", "prompts")} == {
        "window": 256, "pooling": "mean", "languages": ["en"], "prompts": {}}
    assert rows["glove-50d"]["window"] is None  # a word-vector model reads whole texts
    table = CliRunner().invoke(app, ["models"]).stdout
    assert "window 24 · pooling mean · languages - · prompts query 'query: ', document 'passage: '" in table
    assert "window 256 · pooling mean · languages en · prompts -" in table


def test_a_catalog_entry_pools_as_its_pooling_field_says():
    from dataclasses import replace

    from embkit.encoders.catalog import CATALOG
    from embkit.encoders.loader import _load_catalog

    encoder = _load_catalog(replace(CATALOG["minilm"], name="minilm-cls", pooling="cls"), threads=1)
    first = encoder.token_states(TEXTS[0])[0]
    np.testing.assert_allclose(encoder.encode(TEXTS[:1])[0], first / np.linalg.norm(first), atol=1e-6)
