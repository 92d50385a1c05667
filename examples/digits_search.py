"""After `make demo-images`: search the digit images by text prompts, print how many of
each prompt's top 10 show that digit (labels from captions.jsonl, which the search never
sees), and draw the top 8 of each prompt as one picture.

    python examples/digits_search.py DIGITS_DIR COLLECTION OUT.png
"""

import json
import sys
from pathlib import Path

import embkit
from embkit.train.digits import PROMPT, WORDS


def main(digits: Path, collection: Path, picture: Path) -> None:
    from PIL import Image, ImageDraw

    label = {}
    for line in (digits / "captions.jsonl").read_text().splitlines():
        row = json.loads(line)
        label[row["image"]] = row["label"]
    top, size = 8, 64
    sheet = Image.new("RGB", (110 + top * (size + 4), len(WORDS) * (size + 4)), "white")
    draw = ImageDraw.Draw(sheet)
    right = 0
    with embkit.open(collection) as col:
        for row, word in enumerate(WORDS):
            hits = col.search(PROMPT.format(word), k=10)
            found = [label[Path(h.id).name] for h in hits]
            right += sum(f == word for f in found)
            print(f"{PROMPT.format(word):<24} {sum(f == word for f in found):>2}/10  {' '.join(found[:top])}")
            draw.text((4, row * (size + 4) + size // 2 - 6), PROMPT.format(word)[2:], fill="black")
            for i, hit in enumerate(hits[:top]):
                with Image.open(col.thumbnail(hit.id)) as thumb:
                    tile = thumb.convert("RGB").resize((size, size))
                sheet.paste(tile, (110 + i * (size + 4), row * (size + 4)))
    sheet.save(picture)
    print(f"precision@10 over the ten prompts: {right / (10 * len(WORDS)):.2f}; picture: {picture}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
