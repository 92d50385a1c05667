"""`embkit train clip`: a small image–text dual encoder on CPU. The image tower is a
small CNN (encoders/small_clip.py); the text tower is a frozen catalog model (minilm)
plus a learned projection. Both are trained with the symmetric InfoNCE loss and a
learned temperature; captions that are equal within a batch count as positives of each
other (a class-level dataset repeats captions).

The frozen text model embeds each distinct caption once, before training. A held-out
share of the pairs gives the before (random init) and after scores: zero-shot
classification by text prompts (when captions carry a `label`) and text→image
recall@10. A checkpoint is written after every epoch into `.<OUT>.partial/`; the same
command resumes from it. The result is registered by name, like a catalog model:
`NAME` is the text tower and `NAME#image` the image tower."""

import json
import math
import random
import shutil
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import EmbkitError
from .output import finish_output, refuse_existing, write_summary

RECALL_NOTE = "recall@10: share of a caption's top 10 held-out images that match it (by label, else the image itself)"


class Pair(NamedTuple):
    path: Path
    caption: str
    label: str | None


def read_captions(images: str | Path, captions: str | Path) -> list[Pair]:
    """One JSON object per line: "image" (a path inside `images`), "caption" and an
    optional "label". Every line is checked; a bad one names its line number."""
    images, captions = Path(images), Path(captions)
    if not images.is_dir():
        raise EmbkitError(f"images: {images} is not a folder")
    if not captions.is_file():
        raise EmbkitError(f"captions: {captions} not found")
    pairs = []
    for number, line in enumerate(captions.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        where = f"captions: {captions}:{number}"
        try:
            row = json.loads(line)
        except ValueError as e:
            raise EmbkitError(f"{where}: not JSON ({e})") from None
        if not isinstance(row, dict) or not isinstance(row.get("image"), str) \
                or not isinstance(row.get("caption"), str) or not row["caption"].strip():
            raise EmbkitError(f"{where}: expected {{\"image\": path, \"caption\": non-empty text, \"label\"?: text}}")
        path = images / row["image"]
        if not path.is_file():
            raise EmbkitError(f"{where}: image {path} not found")
        label = row.get("label")
        pairs.append(Pair(path, row["caption"], None if label is None else str(label)))
    if len(pairs) < 20:
        raise EmbkitError(f"captions: {len(pairs)} pairs in {captions}; at least 20 are needed")
    return pairs


def train_clip(out: str | Path, images: str | Path, captions: str | Path, *, text_model: str = "minilm",
               dim: int = 64, image_size: int = 32, widths: tuple[int, ...] = (32, 64, 128), epochs: int = 10,
               batch_size: int = 128, lr: float = 2e-3, holdout: float = 0.2, prompt: str = "a photo of {}",
               seed: int = 0, name: str | None = None, overwrite: bool = False, progress=None,
               steps_known=None) -> dict:
    """Train, save to `out`, register, and evaluate before/after on the held-out pairs.
    `steps_known(total)` hears the number of optimizer steps before training starts."""
    _check(dim, image_size, widths, epochs, batch_size, lr, holdout, prompt)
    pairs = read_captions(images, captions)
    out = Path(out).expanduser()
    refuse_existing(out, overwrite)
    import torch

    from ..encoders import load_encoder
    from ..encoders.registry import check_name, register
    from .clip_trainer import DualEncoder

    name = name or out.name
    check_name(name)  # before training, not after

    data = _prepare(pairs, text_model, prompt, holdout, seed, image_size)
    config = {"format": "embkit-clip", "version": 1, "text_model": text_model, "dim": dim, "image_size": image_size,
              "widths": list(widths)}
    steps_per_epoch = math.ceil(len(data.train) / batch_size)
    model = DualEncoder(config, data.text_vectors.shape[1], lr, epochs * steps_per_epoch, seed)
    staging = out.parent / f".{out.name}.partial"
    checkpoint = staging / "checkpoints" / "last.pt"
    run = {"config": config, "data": [str(captions), len(pairs), seed, holdout, epochs, batch_size, lr]}
    start_epoch, before = _resume(checkpoint, run, model)
    if before is None:  # a fresh run: score the random init, then start clean
        shutil.rmtree(staging, ignore_errors=True)
        before = _scores(model.embed_texts, model.embed_images, data, prompt)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    if steps_known:
        steps_known((epochs - start_epoch) * steps_per_epoch)
    started, losses = time.perf_counter(), []
    for epoch in range(start_epoch, epochs):
        order = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(seed * 1000 + epoch))
        total = 0.0
        for step in range(steps_per_epoch):
            rows = order[step * batch_size:(step + 1) * batch_size]
            ids = data.train_text[rows]
            total += model.step(data.train_pixels[rows], data.text_vectors[ids], ids)
            if progress:
                progress(1)
        losses.append(round(total / steps_per_epoch, 4))
        torch.save({"run": run, "epoch": epoch, "before": before, **model.state()}, checkpoint)
    seconds = time.perf_counter() - started

    model.save(staging / "model", config)
    summary = {"kind": "clip", "images": str(images), "captions": str(captions), "text_model": text_model,
               "pairs": len(pairs), "train": len(data.train), "held_out": len(data.held), "labels": len(data.labels),
               "prompt": prompt, "dim": dim, "image_size": image_size, "widths": list(widths), "epochs": epochs,
               "resumed_at_epoch": start_epoch or None, "batch_size": batch_size, "lr": lr, "seed": seed,
               "loss_per_epoch": losses, "temperature": round(model.temperature, 4), "seconds": round(seconds, 1)}
    write_summary(staging / "model", summary)
    finish_output(staging / "model", out)
    shutil.rmtree(staging, ignore_errors=True)
    summary["name"] = register(name, out, [], dim=dim, paired=f"{name}#image")
    # after: through the saved folder, loaded as any user would
    text, image = load_encoder(summary["name"]), load_encoder(summary["name"] + "#image")
    after = evaluate(text.encode, lambda: image.encode([p.path for p in data.held]), data.held, data.labels, prompt)
    summary["evaluation"] = {"held_out": len(data.held), "chance": _chance(data.held, data.labels),
                             "note": RECALL_NOTE, "before": before, "after": after}
    write_summary(out, summary)
    return summary


class _Data(NamedTuple):
    train: list[Pair]
    held: list[Pair]
    labels: list[str]
    text_row: dict[str, int]  # caption or prompt -> row of text_vectors
    text_vectors: object  # torch (texts, base dim): the frozen model's, embedded once
    train_pixels: object  # torch (train, 3, size, size)
    held_pixels: object
    train_text: object  # torch (train,): each training pair's row in text_vectors


def _prepare(pairs: list[Pair], text_model: str, prompt: str, holdout: float, seed: int, size: int) -> _Data:
    import torch

    from ..encoders import load_encoder
    from ..encoders.small_clip import pixels

    base = load_encoder(text_model)
    if base.modality != "text":
        raise EmbkitError(f"text_model: {text_model!r} does not embed text")
    train, held = _split(pairs, holdout, seed)
    labels = sorted({p.label for p in pairs if p.label is not None})
    texts = sorted({p.caption for p in pairs} | {prompt.format(label) for label in labels})
    text_row = {t: i for i, t in enumerate(texts)}
    return _Data(train, held, labels, text_row, torch.from_numpy(base.encode(texts, batch_size=64)),
                 torch.from_numpy(pixels([p.path for p in train], size)),
                 torch.from_numpy(pixels([p.path for p in held], size)),
                 torch.tensor([text_row[p.caption] for p in train]))


def _resume(checkpoint: Path, run: dict, model) -> tuple[int, dict | None]:
    """(first epoch to train, the before scores) from a checkpoint of the same command,
    else (0, None)."""
    if not checkpoint.is_file():
        return 0, None
    import torch

    saved = torch.load(checkpoint, weights_only=False)
    if saved.get("run") != run:
        return 0, None
    model.restore(saved)
    return saved["epoch"] + 1, saved["before"]


def _scores(embed_texts, embed_images, data: _Data, prompt: str) -> dict:
    """`evaluate` on the in-memory model (the random init)."""
    return evaluate(lambda texts: embed_texts(data.text_vectors[[data.text_row[t] for t in texts]]),
                    lambda: embed_images(data.held_pixels), data.held, data.labels, prompt)


def evaluate(embed_texts, embed_images, held: list[Pair], labels: list[str], prompt: str) -> dict:
    """Zero-shot accuracy (when labelled) and text→image recall@10 on the held-out pairs."""
    images = embed_images()
    result = {}
    if labels and all(p.label is not None for p in held):
        prompts = embed_texts([prompt.format(label) for label in labels])
        predicted = np.argmax(images @ prompts.T, axis=1)
        truth = np.array([labels.index(p.label) for p in held])
        result["zero_shot_accuracy"] = round(float(np.mean(predicted == truth)), 4)
    queries = embed_texts([p.caption for p in held])
    k = min(10, len(held))
    top = np.argsort(-(queries @ images.T), axis=1, kind="stable")[:, :k]
    by_label: dict[str, set[int]] = {}
    for j, p in enumerate(held):
        by_label.setdefault(p.label, set()).add(j)
    recalls = []
    for i, row in enumerate(top):
        relevant = by_label[held[i].label] if held[i].label is not None else {i}
        recalls.append(len(relevant.intersection(row.tolist())) / min(len(relevant), k))
    result["recall@10"] = round(float(np.mean(recalls)), 4)
    return result


def _chance(held: list[Pair], labels: list[str]) -> dict:
    """What guessing scores: 1/classes for zero-shot; the base rate for recall@10."""
    out = {}
    if labels:
        out["zero_shot_accuracy"] = round(1 / len(labels), 4)
        counts = {label: sum(p.label == label for p in held) for label in labels}
        out["recall@10"] = round(sum(c * c for c in counts.values()) / len(held) ** 2, 4)
    return out


def _split(pairs: list[Pair], holdout: float, seed: int) -> tuple[list[Pair], list[Pair]]:
    """A seeded shuffle; the last `holdout` share is held out (never trained on)."""
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    n_held = max(10, round(len(pairs) * holdout))
    return [pairs[i] for i in order[n_held:]], [pairs[i] for i in order[:n_held]]


def _check(dim, image_size, widths, epochs, batch_size, lr, holdout, prompt) -> None:
    checks = [("dim", 2 <= dim <= 4096, "between 2 and 4096"),
              ("image_size", 8 <= image_size <= 512, "between 8 and 512"),
              ("widths", 1 <= len(widths) <= 6 and all(1 <= w <= 1024 for w in widths), "1-6 widths of 1-1024"),
              ("epochs", 1 <= epochs <= 1000, "between 1 and 1000"),
              ("batch_size", 2 <= batch_size <= 4096, "between 2 and 4096"),
              ("lr", 0 < lr <= 1, "in (0, 1]"),
              ("holdout", 0 < holdout < 0.9, "in (0, 0.9)"),
              ("prompt", isinstance(prompt, str) and prompt.count("{}") == 1, "a text with one {} for the label")]
    for field, ok, limit in checks:
        if not ok:
            raise EmbkitError(f"{field}: must be {limit}")
    if image_size // 2 ** (len(widths) - 1) < 1:
        raise EmbkitError(f"image_size: {image_size} is too small for {len(widths)} pooling steps")
