"""The process's one tokenizer of a tokenizer.json (tokenizer_files.shared_tokenizer) is
read again when the file is another one, even of the same size and modification time
(`cp -p`, `rsync -t` of a retrained model): the file's identity keys it, as it keys the
model's ONNX export (onnx_weights.file_identity)."""

import os

from tokenizers import Tokenizer, models, pre_tokenizers

from embkit.encoders.tokenizer_files import shared_tokenizer


def _word_level(vocab: dict[str, int]) -> str:
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="a"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return tokenizer.to_str()


def test_a_file_replaced_with_the_same_size_and_mtime_is_read_again(tmp_path):
    path, new = tmp_path / "tokenizer.json", tmp_path / "new.json"
    path.write_text(_word_level({"a": 0, "b": 1}))
    first = shared_tokenizer(path)
    assert first.encode("a b").ids == [0, 1]
    new.write_text(_word_level({"a": 1, "b": 0}))
    stat = path.stat()
    assert new.stat().st_size == stat.st_size
    os.utime(new, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # what cp -p keeps
    os.replace(new, path)
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    assert shared_tokenizer(path).encode("a b").ids == [1, 0]
