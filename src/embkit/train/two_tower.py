"""The training run shared by `embkit train clip` and `embkit train clap`: a small CNN
tower over the media (images, log-mel spectrograms) and a frozen catalog text model
(minilm) plus a learned projection, trained with the symmetric InfoNCE loss and a
learned temperature; captions that are equal within a batch count as positives of each
other (a class-level dataset repeats captions).

The frozen text model embeds each distinct caption once, before training. The held-out
pairs give the before (random init) and after scores. A checkpoint is written after
every epoch into `.<OUT>.partial/`; the same command resumes from it. The result is
registered by name: `NAME` is the text tower and `NAME#image` / `NAME#audio` the other."""

import math
import shutil
import time
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from ..atomic import atomic_write
from ..errors import EmbkitError
from .captions import Pair, read_captions, split_pairs
from .output import finish_output, refuse_existing, write_summary
from .two_tower_scores import chance, evaluate, recall_note


class Modality(NamedTuple):
    """What differs between the image twin and the audio twin."""

    kind: str  # "clip", "clap": the summary's kind
    field: str  # "image", "audio": the captions' file key and the summary's folder key
    media: str  # "images", "clips": how the scores name the files
    suffix: str  # "#image", "#audio": the registered name of the media tower
    tower: Callable[[dict], object]  # config -> a fresh torch module
    features: Callable[[list[Path], dict], np.ndarray]  # files -> the tower's input batch
    files: tuple[str, str, str]  # the model folder's config, tower weights, text projection
    augment: Callable | None = None  # (batch tensor, torch.Generator) -> batch, training only


class _Data(NamedTuple):
    train: list[Pair]
    held: list[Pair]
    labels: list[str]
    text_row: dict[str, int]  # caption or prompt -> row of text_vectors
    text_vectors: object  # torch (texts, base dim): the frozen model's, embedded once
    train_inputs: object  # torch (train, ...): the tower's inputs
    held_inputs: object
    train_text: object  # torch (train,): each training pair's row in text_vectors


def train_two_tower(out: str | Path, media: str | Path, captions: str | Path, modality: Modality, config: dict, *,
                    text_model: str, epochs: int, batch_size: int, lr: float, holdout: float, prompt: str, seed: int,
                    name: str | None, overwrite: bool, progress=None, steps_known=None, facts: dict,
                    threads: int | None = None) -> dict:
    """Train, save to `out`, register, and evaluate before/after on the held-out pairs.
    `steps_known(total)` hears the number of optimizer steps before training starts;
    `facts` (the model's settings) go into the summary; `threads` caps torch's threads
    (on a busy machine one thread can be several times faster than two)."""
    pairs = read_captions(media, captions, modality.field)
    out = Path(out).expanduser()
    refuse_existing(out, overwrite)
    from ..encoders.registry import check_name, register
    from ..encoders.torch import limit_torch_threads
    from .clip_trainer import DualEncoder

    name = name or out.name
    check_name(name)  # before training, not after
    limit_torch_threads(threads)
    data = _prepare(pairs, modality, config, text_model, prompt, holdout, seed)
    steps_per_epoch = math.ceil(len(data.train) / batch_size)
    model = DualEncoder(lambda: modality.tower(config), config["dim"], data.text_vectors.shape[1], lr,
                        epochs * steps_per_epoch, seed)
    staging = out.parent / f".{out.name}.partial"
    run = {"config": config, "data": [_digest(pairs), seed, holdout, epochs, batch_size, lr, prompt]}
    start_epoch, before, losses = _resume(staging / "checkpoints" / "last.pt", run, model)
    if before is None:  # a fresh run: score the random init, then start clean
        shutil.rmtree(staging, ignore_errors=True)
        before = _in_memory_scores(model, data, prompt)
    if steps_known:
        steps_known((epochs - start_epoch) * steps_per_epoch)
    started = time.perf_counter()
    losses = _fit(model, data, modality, range(start_epoch, epochs), batch_size, seed, progress,
                  lambda epoch: {"run": run, "epoch": epoch, "before": before}, staging / "checkpoints" / "last.pt",
                  losses)
    summary = {"kind": modality.kind, modality.field: str(media), "captions": str(captions), "text_model": text_model,
               "pairs": len(pairs), "train": len(data.train), "held_out": len(data.held), "labels": len(data.labels),
               "prompt": prompt, **facts, "epochs": epochs, "resumed_at_epoch": start_epoch or None,
               "batch_size": batch_size, "lr": lr, "seed": seed, "loss_per_epoch": losses,
               "temperature": round(model.temperature, 4), "seconds": round(time.perf_counter() - started, 1)}
    model.save(staging / "model", config, modality.files)
    write_summary(staging / "model", summary)
    finish_output(staging / "model", out)
    shutil.rmtree(staging, ignore_errors=True)
    summary["name"] = register(name, out, [], dim=config["dim"], paired=name + modality.suffix)
    summary["evaluation"] = {"held_out": len(data.held), "chance": chance(data.held, data.labels),
                             "note": recall_note(modality.media), "before": before,
                             "after": _saved_scores(summary["name"], modality, data, prompt)}
    write_summary(out, summary)
    return summary


def check_run(dim, widths, epochs, batch_size, lr, holdout, prompt) -> None:
    """The settings both twins share, each refused in one line naming its limit."""
    checks = [("dim", 2 <= dim <= 4096, "between 2 and 4096"),
              ("widths", 1 <= len(widths) <= 6 and all(1 <= w <= 1024 for w in widths), "1-6 widths of 1-1024"),
              ("epochs", 1 <= epochs <= 1000, "between 1 and 1000"),
              ("batch_size", 2 <= batch_size <= 4096, "between 2 and 4096"),
              ("lr", 0 < lr <= 1, "in (0, 1]"),
              ("holdout", 0 < holdout < 0.9, "in (0, 0.9)"),
              ("prompt", isinstance(prompt, str) and prompt.count("{}") == 1, "a text with one {} for the label")]
    for field, ok, limit in checks:
        if not ok:
            raise EmbkitError(f"{field}: must be {limit}")


def _prepare(pairs: list[Pair], modality: Modality, config: dict, text_model: str, prompt: str, holdout: float,
             seed: int) -> _Data:
    import torch

    from ..encoders import load_encoder

    base = load_encoder(text_model)
    if base.modality != "text":
        raise EmbkitError(f"text_model: {text_model!r} does not embed text")
    train, held = split_pairs(pairs, holdout, seed)
    labels = sorted({p.label for p in pairs if p.label is not None})
    texts = sorted({p.caption for p in pairs} | {prompt.format(label) for label in labels})
    text_row = {t: i for i, t in enumerate(texts)}
    return _Data(train, held, labels, text_row, torch.from_numpy(base.encode(texts, batch_size=64)),
                 torch.from_numpy(_inputs(train, modality, config)), torch.from_numpy(_inputs(held, modality, config)),
                 torch.tensor([text_row[p.caption] for p in train]))


def _inputs(pairs: list[Pair], modality: Modality, config: dict):
    """The tower's input batch; a file that cannot be read is named with its captions line."""
    try:
        return modality.features([p.path for p in pairs], config)
    except EmbkitError:
        for pair in pairs:  # only on failure: find the first unreadable file, one at a time
            try:
                modality.features([pair.path], config)
            except EmbkitError as e:
                raise EmbkitError(f"{pair.where}: {e}") from None
        raise


def _digest(pairs: list[Pair]) -> str:
    """What a run trains on (files, captions, labels, splits): a checkpoint of other data is not resumed."""
    import hashlib
    import json

    rows = [[str(p.path), p.caption, p.label, p.split] for p in pairs]
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def _fit(model, data: _Data, modality: Modality, epochs: range, batch_size: int, seed: int, progress, state,
         checkpoint: Path, losses: list[float]) -> list[float]:
    """The epochs left; a checkpoint after each (written whole or not at all). Returns the
    mean loss per epoch, the resumed run's earlier epochs (`losses`) first."""
    import torch

    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    steps_per_epoch, losses = math.ceil(len(data.train) / batch_size), list(losses)
    for epoch in epochs:
        generator = torch.Generator().manual_seed(seed * 1000 + epoch)
        order = torch.randperm(len(data.train), generator=generator)
        total = 0.0
        for step in range(steps_per_epoch):
            rows = order[step * batch_size:(step + 1) * batch_size]
            inputs = data.train_inputs[rows]
            if modality.augment:
                inputs = modality.augment(inputs, generator)
            ids = data.train_text[rows]
            total += model.step(inputs, data.text_vectors[ids], ids)
            if progress:
                progress(1)
        losses.append(round(total / steps_per_epoch, 4))
        saved = {**state(epoch), "losses": losses, **model.state()}
        atomic_write(checkpoint, lambda tmp, saved=saved: torch.save(saved, tmp))
    return losses


def _resume(checkpoint: Path, run: dict, model) -> tuple[int, dict | None, list[float]]:
    """(first epoch to train, the before scores, the losses so far) from a checkpoint of
    the same command on the same data, else (0, None, [])."""
    if not checkpoint.is_file():
        return 0, None, []
    import torch

    try:
        saved = torch.load(checkpoint, weights_only=False)
    except Exception:  # unreadable (cut short by a crash in an older embkit's save, a bad disk): start over
        return 0, None, []
    if not isinstance(saved, dict) or saved.get("run") != run:
        return 0, None, []
    model.restore(saved)
    return saved["epoch"] + 1, saved["before"], saved.get("losses", [])


def _in_memory_scores(model, data: _Data, prompt: str) -> dict:
    """`evaluate` on the in-memory model (the random init)."""
    return evaluate(lambda texts: model.embed_texts(data.text_vectors[[data.text_row[t] for t in texts]]),
                    lambda: model.embed_media(data.held_inputs), data.held, data.labels, prompt)


def _saved_scores(name: str, modality: Modality, data: _Data, prompt: str) -> dict:
    """`evaluate` through the saved folder, loaded as any user would."""
    from ..encoders import load_encoder

    text, media = load_encoder(name), load_encoder(name + modality.suffix)
    return evaluate(text.encode, lambda: media.encode([p.path for p in data.held]), data.held, data.labels, prompt)
