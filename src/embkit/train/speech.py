"""Spoken words synthesized offline with espeak-ng, as an audio folder with captions for
`embkit train clap`:

    python -m embkit.train.speech OUT      # OUT/clips/*.wav, OUT/captions.jsonl, OUT/voices.json

The ten digits and ten other words, each said by many voices: a voice is one of
espeak-ng's English accents with one of its variants (speakers such as `m3`, `f2`,
`klatt`). Speed and pitch are drawn per clip. Captions come from several templates
("someone saying seven", "the spoken word seven", ...) with the word as the label. A
share of the variants is held out whole: their clips are marked `"split": "held_out"`
(listed in voices.json), so a held-out speaker is never trained on in any accent."""

import argparse
import json
import random
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

from ..errors import EmbkitError

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
OTHER_WORDS = ["yes", "no", "up", "down", "left", "right", "stop", "go", "house", "water"]
WORDS = DIGITS + OTHER_WORDS
ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029",
           "en-us-nyc"]
TEMPLATES = ["someone saying {}", "the spoken word {}", "a voice saying {}", "a recording of the word {}",
             "a person says {}", "{}, spoken aloud"]
PROMPT = "the spoken word {}"  # the zero-shot prompt for a label
ESPEAK = "espeak-ng"


class Clip(NamedTuple):
    file: str  # relative to OUT
    word: str
    accent: str
    variant: str
    speed: int
    pitch: int
    caption: str
    split: str


def espeak_path() -> str:
    """The espeak-ng program, or a one-line error saying how to get it."""
    path = shutil.which(ESPEAK)
    if path is None:
        raise EmbkitError("espeak-ng: not found on PATH; install it (Debian: sudo apt-get install espeak-ng)")
    return path


def variants() -> list[str]:
    """espeak-ng's voice variants (its `!v` files: m1..m7, f1..f5, klatt, ...), sorted."""
    done = subprocess.run([espeak_path(), "--voices=variant"], capture_output=True, text=True)
    if done.returncode != 0:  # installed but broken (its data folder missing, say)
        raise EmbkitError(f"espeak-ng: listing its voices failed: {done.stderr.strip()[:200]}")
    rows = [line.split() for line in done.stdout.splitlines()[1:]]  # Pty Language Age/Gender VoiceName File ...
    names = {row[4].split("/")[-1] for row in rows if len(row) > 4 and row[4].startswith("!v/")
             and (len(row) == 5 or row[5].startswith("("))}  # "!v/Mr serious": a file name -v cannot name
    return sorted(names)


def plan(words: int = 20, voices: int = 0, accents: int = 2, holdout: float = 0.25, seed: int = 0) -> list[Clip]:
    """Which clips to make: every word by every voice (`accents` accents for each of
    `voices` variants, 0 = all); the last `holdout` share of the shuffled variants is held out."""
    _check(words, voices, accents, holdout)
    rng = random.Random(seed)
    names = variants()
    rng.shuffle(names)
    names = names[:voices] if voices else names
    n_held = max(1, round(len(names) * holdout))
    held = set(names[len(names) - n_held:])
    clips = []
    for variant in names:
        for accent in rng.sample(ACCENTS, accents):
            for word in WORDS[:words]:
                speed, pitch = rng.randint(120, 210), rng.randint(20, 80)
                caption = rng.choice(TEMPLATES).format(word)
                file = f"clips/{variant}/{accent}-{word}.wav"
                clips.append(Clip(file, word, accent, variant, speed, pitch, caption,
                                  "held_out" if variant in held else "train"))
    return clips


def synthesize(clip: Clip, out: Path, program: str) -> None:
    path = out / clip.file
    path.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([program, "-v", f"{clip.accent}+{clip.variant}", "-s", str(clip.speed),
                           "-p", str(clip.pitch), "-w", str(path), clip.word], capture_output=True, text=True)
    if done.returncode != 0 or not path.is_file():
        raise EmbkitError(f"espeak-ng: voice {clip.accent}+{clip.variant} failed: {done.stderr.strip()[:200]}")


def write_speech(out: str | Path, clips: list[Clip], workers: int = 2, progress=None) -> Path:
    """Synthesize `clips` under `out` (`workers` espeak-ng processes at once), then write
    captions.jsonl and voices.json; returns the captions file."""
    out, program = Path(out), espeak_path()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(lambda clip: synthesize(clip, out, program), clips):
            progress and progress(1)
    lines = [json.dumps({"audio": c.file, "caption": c.caption, "label": c.word, "voice": f"{c.accent}+{c.variant}",
                         "speed": c.speed, "pitch": c.pitch, "split": c.split}) for c in clips]
    captions = out / "captions.jsonl"
    captions.write_text("\n".join(lines) + "\n")
    split = {s: sorted({c.variant for c in clips if c.split == s}) for s in ("train", "held_out")}
    (out / "voices.json").write_text(json.dumps({"variants": split, "accents": sorted({c.accent for c in clips}),
                                                 "words": sorted({c.word for c in clips}), "clips": len(clips)},
                                                indent=1))
    return captions


def _check(words: int, voices: int, accents: int, holdout: float) -> None:
    checks = [("words", 2 <= words <= len(WORDS), f"between 2 and {len(WORDS)}"),
              ("voices", voices == 0 or voices >= 2, "0 (all) or at least 2"),
              ("accents", 1 <= accents <= len(ACCENTS), f"between 1 and {len(ACCENTS)}"),
              ("holdout", 0 < holdout < 0.9, "in (0, 0.9)")]
    for field, ok, limit in checks:
        if not ok:
            raise EmbkitError(f"{field}: must be {limit}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m embkit.train.speech", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="output folder (must not exist or be empty)")
    parser.add_argument("--words", type=int, default=len(WORDS), help="the first N of the 20 words")
    parser.add_argument("--voices", type=int, default=0, help="variants to use (0: all of espeak-ng's)")
    parser.add_argument("--accents", type=int, default=2, help="English accents per variant")
    parser.add_argument("--holdout", type=float, default=0.25, help="share of variants held out")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from rich.progress import Progress

    try:
        out = Path(args.out)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise EmbkitError(f"out: {out} exists and is not an empty folder")
        clips = plan(args.words, args.voices, args.accents, args.holdout, args.seed)
        with Progress(transient=True) as bar:
            task = bar.add_task("synthesizing clips", total=len(clips))
            captions = write_speech(out, clips, progress=lambda n: bar.advance(task, n))
    except EmbkitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    held = sum(c.split == "held_out" for c in clips)
    print(f"{len(clips)} clips ({held} by held-out voices) in {out}; captions: {captions}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
