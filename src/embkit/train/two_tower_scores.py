"""The before/after scores of a two-tower model on held-out pairs: zero-shot
classification by text prompts (when captions carry a label) and text→media recall@10;
and what guessing would score."""

import numpy as np

from .captions import Pair


def recall_note(media: str) -> str:
    return (f"recall@10: share of a caption's top 10 held-out {media} that match it "
            f"(by label, else the {media.rstrip('s')} itself)")


def evaluate(embed_texts, embed_media, held: list[Pair], labels: list[str], prompt: str) -> dict:
    """Zero-shot accuracy (when labelled) and text→media recall@10 on the held-out pairs.
    `embed_texts(texts)` and `embed_media()` (the held-out files, in order) give unit vectors."""
    media = embed_media()
    result = {}
    if labels and all(p.label is not None for p in held):
        prompts = embed_texts([prompt.format(label) for label in labels])
        predicted = np.argmax(media @ prompts.T, axis=1)
        truth = np.array([labels.index(p.label) for p in held])
        result["zero_shot_accuracy"] = round(float(np.mean(predicted == truth)), 4)
    queries = embed_texts([p.caption for p in held])
    k = min(10, len(held))
    top = np.argsort(-(queries @ media.T), axis=1, kind="stable")[:, :k]
    by_label: dict[str, set[int]] = {}
    for j, p in enumerate(held):
        by_label.setdefault(p.label, set()).add(j)
    recalls = []
    for i, row in enumerate(top):
        relevant = by_label[held[i].label] if held[i].label is not None else {i}
        recalls.append(len(relevant.intersection(row.tolist())) / min(len(relevant), k))
    result["recall@10"] = round(float(np.mean(recalls)), 4)
    return result


def chance(held: list[Pair], labels: list[str]) -> dict:
    """What guessing scores: 1/classes for zero-shot; the base rate for recall@10."""
    out = {}
    if labels:
        out["zero_shot_accuracy"] = round(1 / len(labels), 4)
        counts = {label: sum(p.label == label for p in held) for label in labels}
        out["recall@10"] = round(sum(c * c for c in counts.values()) / len(held) ** 2, 4)
    return out
