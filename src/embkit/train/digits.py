"""scikit-learn's bundled handwritten digits (1,797 images, 8×8, offline) as an image
folder with captions, for `embkit train clip`:

    python -m embkit.train.digits OUT      # OUT/images/*.png, OUT/captions.jsonl

Each image is written at 32×32 (white strokes on black) and captioned from a few
templates ("a handwritten seven", "the digit 7", ...) with its label ("seven")."""

import json
import random
import sys
from pathlib import Path

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEMPLATES = ["a handwritten {word}", "the digit {digit}", "a hand-drawn number {word}",
             "the number {word} written by hand", "a scanned digit {digit}"]
PROMPT = "a handwritten {}"  # the zero-shot prompt for a label


def write_digits(out: str | Path, seed: int = 0) -> Path:
    """Write the images and captions.jsonl under `out`; returns the captions file."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    digits = load_digits()
    rng = random.Random(seed)
    lines = []
    for i, (pixels, label) in enumerate(zip(digits.images, digits.target)):
        picture = Image.fromarray(np.uint8(pixels * (255 / 16)), mode="L").resize((32, 32), Image.BILINEAR)
        name = f"digit-{i:04d}.png"
        picture.save(out / "images" / name)
        caption = rng.choice(TEMPLATES).format(word=WORDS[label], digit=int(label))
        lines.append(json.dumps({"image": name, "caption": caption, "label": WORDS[label]}))
    captions = out / "captions.jsonl"
    captions.write_text("\n".join(lines) + "\n")
    return captions


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m embkit.train.digits OUT")
    print(write_digits(sys.argv[1]))
