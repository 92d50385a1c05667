"""A model folder's small JSON configs are parsed once per file identity
(encoders/prompts.py, encoders/tokenizer_files.py): a rewrite is seen, the shared parse
cannot be changed by a caller, and a file that is gone or is not a file reads as absent."""

import json
import os

import pytest

from embkit.encoders.prompts import ST_CONFIG, folder_prompts
from embkit.encoders.tokenizer_files import _json, regular_file_identity


def _prompts(folder, query):
    (folder / ST_CONFIG).write_text(json.dumps({"prompts": {"query": query}}))


def test_a_rewritten_prompt_is_read_again_even_with_size_and_mtime_kept(tmp_path):
    _prompts(tmp_path, "query: ")
    assert folder_prompts(tmp_path) == {"query": "query: "}
    stat = (tmp_path / ST_CONFIG).stat()
    _prompts(tmp_path, "qwery: ")  # same size
    os.utime(tmp_path / ST_CONFIG, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime (as `cp -p`)
    assert folder_prompts(tmp_path) == {"query": "qwery: "}


def test_the_shared_parse_is_read_only(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"max_position_embeddings": 512}))
    parsed = _json(tmp_path / "config.json")
    with pytest.raises(TypeError):
        parsed["max_position_embeddings"] = 8  # would poison every later reader in the process
    assert _json(tmp_path / "config.json")["max_position_embeddings"] == 512


def test_a_missing_file_or_a_directory_in_its_place_reads_as_absent(tmp_path):
    assert regular_file_identity(tmp_path / "config.json") is None
    assert regular_file_identity(tmp_path / "config.json" / "deeper") is None
    (tmp_path / ST_CONFIG).mkdir()
    (tmp_path / "config.json").mkdir()
    assert folder_prompts(tmp_path) == {}
    assert _json(tmp_path / "config.json") == {}


def test_a_file_removed_between_its_stat_and_its_read_reads_as_absent(tmp_path, monkeypatch):
    """A model folder being replaced: the file is there when its identity is taken and gone
    when it is read (it was a bare FileNotFoundError: a traceback, a 500 over HTTP)."""
    from pathlib import Path

    _prompts(tmp_path, "query: ")
    (tmp_path / "config.json").write_text(json.dumps({"max_position_embeddings": 512}))
    read_text = Path.read_text

    def removed_first(self, *args, **kwargs):
        self.unlink(missing_ok=True)
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", removed_first)
    assert folder_prompts(tmp_path) == {}
    assert _json(tmp_path / "config.json") == {}
