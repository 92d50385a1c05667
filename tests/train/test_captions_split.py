"""The held-out pairs of `embkit train clip` / `train clap` are never trained on, also when
a file is captioned on several lines: the split is by file, and a captions file that
holds a file out on one line and trains on it on another is refused naming both lines."""

import json

import pytest

from embkit.errors import EmbkitError
from embkit.train.captions import read_captions, split_pairs


def _captions(tmp_path, rows):
    for row in rows:
        (tmp_path / row["audio"]).write_bytes(b"")  # the split reads captions, not sounds
    path = tmp_path / "captions.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_a_file_captioned_twice_is_held_out_with_all_its_captions(tmp_path):
    rows = [{"audio": f"clip{i}.wav", "caption": f"{template} {i}", "label": str(i % 5)}
            for i in range(30) for template in ("someone saying", "the spoken word")]
    pairs = read_captions(tmp_path, _captions(tmp_path, rows), "audio")
    train, held = split_pairs(pairs, holdout=0.2, seed=0)
    assert len(train) + len(held) == 60 and len(held) == 20  # 10 of the 30 files, two captions each
    assert not {p.path for p in train} & {p.path for p in held}
    assert split_pairs(pairs, holdout=0.2, seed=0) == (train, held)  # seeded


def test_one_caption_a_file_splits_as_before(tmp_path):
    rows = [{"audio": f"clip{i}.wav", "caption": f"clip {i}"} for i in range(40)]
    pairs = read_captions(tmp_path, _captions(tmp_path, rows), "audio")
    train, held = split_pairs(pairs, holdout=0.25, seed=3)
    order = list(range(40))
    __import__("random").Random(3).shuffle(order)  # the line-level shuffle this split replaced
    assert held == [pairs[i] for i in order[:10]] and train == [pairs[i] for i in order[10:]]


def test_a_file_both_held_out_and_trained_on_is_refused_naming_both_lines(tmp_path):
    rows = [{"audio": f"clip{i}.wav", "caption": f"clip {i}", "split": "held_out" if i < 10 else "train"}
            for i in range(25)]
    rows.append({"audio": "clip3.wav", "caption": "clip three again", "split": "train"})
    captions = _captions(tmp_path, rows)
    with pytest.raises(EmbkitError) as refused:
        split_pairs(read_captions(tmp_path, captions, "audio"), holdout=0.2, seed=0)
    assert str(refused.value) == (f"captions: {captions}:4: {tmp_path / 'clip3.wav'} is held out, "
                                  f"but captions: {captions}:26 trains on it")


def test_too_few_distinct_files_to_hold_ten_out_is_refused(tmp_path):
    rows = [{"audio": f"clip{i % 8}.wav", "caption": f"caption {i}"} for i in range(24)]
    with pytest.raises(EmbkitError, match=r"^captions: 8 distinct files; at least 11 are needed "
                                          r"\(10 held out and one for training\)$"):
        split_pairs(read_captions(tmp_path, _captions(tmp_path, rows), "audio"), holdout=0.2, seed=0)
