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
