"""`embkit train clip` on scikit-learn's bundled digits with captions, a test-sized run:
held-out zero-shot accuracy by text prompts goes from chance to ≥ 0.8 and text→image
recall@10 far above chance; the saved model loads as a registered two-tower model (the
text tower's vectors equal the frozen model's projected by the saved matrix) and
searches an image collection by text; an interrupted run resumes from its checkpoint;
bad input names its field and writes nothing."""

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

import embkit  # noqa: E402
from embkit.errors import EmbkitError  # noqa: E402
from embkit.train.clip import read_captions, train_clip  # noqa: E402
from embkit.train.digits import PROMPT, write_digits  # noqa: E402

EPOCHS, BATCH = 10, 64


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """The digits as files, cut to 900 captioned images (the test-sized run)."""
    folder = tmp_path_factory.mktemp("digits")
    captions = write_digits(folder)
    lines = captions.read_text().splitlines()
    small = folder / "captions-900.jsonl"
    small.write_text("\n".join(lines[:900]) + "\n")
    return folder, small


@pytest.fixture(scope="module")
def trained(digits, tmp_path_factory):
    folder, captions = digits
    out = tmp_path_factory.mktemp("models") / "digits-clip"
    summary = train_clip(out, folder / "images", captions, epochs=EPOCHS, batch_size=BATCH, prompt=PROMPT, seed=0)
    return out, summary


def test_training_beats_chance_by_a_wide_margin(trained):
    out, summary = trained
    ev = summary["evaluation"]
    assert ev["held_out"] == 180 and summary["train"] == 720
    assert abs(ev["before"]["zero_shot_accuracy"] - 0.1) < 0.1  # random init: about chance
    assert ev["after"]["zero_shot_accuracy"] >= 0.8
    assert ev["after"]["recall@10"] >= 0.8 and ev["before"]["recall@10"] < 0.3
    assert summary["loss_per_epoch"][-1] < summary["loss_per_epoch"][0]
    assert json.loads((out / "embkit-train.json").read_text())["evaluation"] == ev
    assert not (out.parent / ".digits-clip.partial").exists()  # checkpoints gone once complete


def test_the_model_is_registered_as_two_towers(trained):
    from safetensors.numpy import load_file

    out, summary = trained
    text, image = embkit.load_encoder("digits-clip"), embkit.load_encoder("digits-clip#image")
    assert (text.modality, image.modality) == ("text", "image") and text.dim == image.dim == 64
    assert text.paired == "digits-clip#image" and image.paired == "digits-clip"
    base = embkit.load_encoder("minilm").encode(["a handwritten seven"])
    weights = load_file(str(out / "text_projection.safetensors"))
    expected = base @ weights["weight"].T + weights["bias"]
    np.testing.assert_allclose(text.encode(["a handwritten seven"]), expected / np.linalg.norm(expected), atol=1e-5)
    from typer.testing import CliRunner

    from embkit.cli import app

    listed = json.loads(CliRunner().invoke(app, ["models", "--json"]).stdout)["models"]
    rows = {r["name"]: r for r in listed}
    assert rows["digits-clip"]["modality"] == "text" and rows["digits-clip"]["paired"] == "digits-clip#image"
    assert rows["digits-clip#image"]["modality"] == "image" and rows["minilm"]["modality"] == "text"


def test_an_image_collection_finds_digits_by_text(trained, digits, tmp_path):
    folder, _ = digits
    # images 900-1099: never seen in training (which read the first 900)
    held = [json.loads(line) for line in (folder / "captions.jsonl").read_text().splitlines()[900:1100]]
    with embkit.create(tmp_path / "digits", model="digits-clip#image") as col:
        ids, skipped = col.add_images([str(folder / "images" / r["image"]) for r in held],
                                      metadatas=[{"label": r["label"]} for r in held])
        assert len(ids) == 200 and not skipped
        for word in ("three", "seven"):
            hits = col.search(f"a handwritten {word}", k=10)
            assert sum(h.metadata["label"] == word for h in hits) >= 8, [h.metadata["label"] for h in hits]
        same = col.search(image=str(folder / "images" / held[0]["image"]), k=5)
        assert same[0].id == ids[0] and sum(h.metadata["label"] == held[0]["label"] for h in same) >= 4


def test_an_interrupted_run_resumes_from_its_checkpoint(digits, tmp_path):
    folder, captions = digits
    out = tmp_path / "resumed"
    total, steps = [], []

    def killed_in_the_third_epoch(n):  # after the second epoch's checkpoint
        steps.append(n)
        if len(steps) == 2 * total[0] // 3 + 1:
            raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        train_clip(out, folder / "images", captions, epochs=3, prompt=PROMPT, name="resumed-clip",
                   steps_known=total.append, progress=killed_in_the_third_epoch)
    assert not out.exists() and (tmp_path / ".resumed.partial" / "checkpoints" / "last.pt").is_file()
    summary = train_clip(out, folder / "images", captions, epochs=3, prompt=PROMPT, name="resumed-clip")
    assert summary["resumed_at_epoch"] == 2 and len(summary["loss_per_epoch"]) == 3 and out.is_dir()


def test_bad_input_names_the_field_and_writes_nothing(digits, tmp_path):
    folder, captions = digits
    out = tmp_path / "never"
    cases = [({"epochs": 0}, "epochs: must be between 1 and 1000"),
             ({"prompt": "a digit"}, "prompt: must be a text with one {} for the label"),
             ({"holdout": 0.95}, "holdout: must be in"),
             ({"text_model": "no-such-model"}, "model: unknown model 'no-such-model'"),
             ({"name": "bad name!"}, "name: 'bad name!' must be 1-64 letters")]
    for options, message in cases:
        with pytest.raises(EmbkitError, match=message.replace("{", "\\{").replace("}", "\\}")):
            train_clip(out, folder / "images", captions, **options)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"image": "digit-0000.png", "caption": "a zero"}\n{"image": "missing.png", "caption": "x"}\n')
    with pytest.raises(EmbkitError, match="captions: .*bad.jsonl:2: image .*missing.png not found"):
        read_captions(folder / "images", bad)
    bad.write_text("not json\n")
    with pytest.raises(EmbkitError, match="bad.jsonl:1: not JSON"):
        read_captions(folder / "images", bad)
    assert not out.exists() and not (tmp_path / ".never.partial").exists()


def test_cli_prints_the_before_and_after_table(digits, tmp_path):
    from typer.testing import CliRunner

    from embkit.cli import app

    folder, captions = digits
    done = CliRunner().invoke(app, ["train", "clip", "--images", str(folder / "images"), "--captions", str(captions),
                                    "-o", str(tmp_path / "cli-clip"), "--epochs", "1", "--prompt", PROMPT])
    assert done.exit_code == 0, done.output
    assert "zero-shot accuracy" in done.stdout and "before (random init)" in done.stdout
    assert "registered as 'cli-clip'" in done.stdout


def test_recall_at_10_matches_pytrec_eval():
    """With every label held out at least 10 times, recall@10 with its capped denominator
    is precision@10: checked against pytrec_eval on random vectors."""
    from pathlib import Path

    import pytrec_eval

    from embkit.train.clip import Pair, evaluate

    rng = np.random.default_rng(0)
    held = [Pair(Path(f"img{i}.png"), f"caption {i % 4}", f"label{i % 4}") for i in range(60)]
    images = rng.normal(size=(60, 16)).astype(np.float32)
    captions = {f"caption {c}": rng.normal(size=16).astype(np.float32) for c in range(4)}
    ours = evaluate(lambda texts: np.stack([captions[t] for t in texts]), lambda: images, held, [], "{}")
    scores = np.stack([captions[p.caption] for p in held]) @ images.T
    run = {f"q{i}": {f"img{j}": float(scores[i, j]) for j in range(60)} for i in range(60)}
    qrels = {f"q{i}": {f"img{j}": 1 for j in range(60) if held[j].label == held[i].label} for i in range(60)}
    reference = pytrec_eval.RelevanceEvaluator(qrels, {"P_10"}).evaluate(run)
    assert ours["recall@10"] == pytest.approx(np.mean([r["P_10"] for r in reference.values()]), abs=1e-4)
