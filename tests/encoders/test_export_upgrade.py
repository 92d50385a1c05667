"""An EMBKIT_HOME from before exports were written apart (encoders/export.py): its
NAME-fp32.onnx holds its weights inside. It still loads when EMBKIT_HOME cannot be
written, and an upgrade that stops between its two renames is written again whole."""

import os
import shlex
import sys
from pathlib import Path

import onnx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from embkit.encoders import export, onnx_weights  # noqa: E402
from embkit.encoders.onnx_weights import weights_file  # noqa: E402

import namespace  # noqa: E402
from tiny_bert_weights import tiny_bert as _tiny_bert  # noqa: E402


def _inside(path: Path) -> bool:
    """True when the model at `path` holds its weights inside (the older layout)."""
    from onnx.external_data_helper import uses_external_data

    return not any(uses_external_data(t) for t in onnx.load(str(path), load_external_data=False).graph.initializer)


def _older_export(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """(model folder, its fp32 export with the weights inside, as an older embkit wrote it)."""
    monkeypatch.setenv("EMBKIT_HOME", str(tmp_path / "home"))
    folder = _tiny_bert(tmp_path / "model")
    path = export.fp32_onnx(folder)
    onnx.save_model(onnx.load(str(path)), str(path))
    weights_file(path).unlink()
    assert _inside(path)
    return folder, path


def test_an_older_export_loads_from_an_embkit_home_that_cannot_be_written(tmp_path, monkeypatch):
    """A read-only EMBKIT_HOME (an image's baked cache): the older export is used as it is
    (the rewrite apart raised OSError: read-only file system, and the model did not load)."""
    reason = namespace.unavailable()
    if reason:
        pytest.skip(f"no mount namespace: no read-only mount can be made ({reason})")
    folder, path = _older_export(tmp_path, monkeypatch)
    models = shlex.quote(str(path.parent))
    code = ("import sys; from pathlib import Path; from embkit.encoders import export; "
            "print(export.fp32_onnx(Path(sys.argv[1])))")
    done = namespace.run(f"mount --bind {models} {models} && mount -o remount,bind,ro {models}\n"
                         f"$PYTHON -c {shlex.quote(code)} {shlex.quote(str(folder))}")
    assert (done.returncode, done.stdout.strip()) == (0, str(path)), done.stderr
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_an_upgrade_stopped_between_its_renames_is_written_again(tmp_path, monkeypatch):
    """The weights file is renamed into place first; the older model beside it must not
    pass for the new one (complete() saw both files and kept the weights-inside model,
    plus the new weights file, for good)."""
    folder, path = _older_export(tmp_path, monkeypatch)
    real, calls = os.replace, []

    def stop_after_first(source, target):
        calls.append(target)
        if len(calls) > 1:
            raise OSError("killed between the renames")
        real(source, target)

    monkeypatch.setattr(onnx_weights.os, "replace", stop_after_first)
    with pytest.raises(OSError):
        export.fp32_onnx(folder)
    monkeypatch.setattr(onnx_weights.os, "replace", real)
    assert export.fp32_onnx(folder) == path and not _inside(path)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".data"]
