"""After `embkit train clap` on `python -m embkit.train.speech` clips: put the clips of the
held-out voices (never trained on) in an audio collection, search them by text prompts
and print how many of each prompt's top 10 say that word (labels from captions.jsonl,
which the search never sees).

    python examples/speech_search.py SPEECH_DIR MODEL COLLECTION
"""

import json
import sys
from pathlib import Path

import embkit
from embkit.train.speech import PROMPT


def main(speech: Path, model: str, collection: Path) -> None:
    rows = [json.loads(line) for line in (speech / "captions.jsonl").read_text().splitlines()]
    held = [r for r in rows if r["split"] == "held_out"]
    words = sorted({r["label"] for r in held})
    with embkit.create(collection, model=f"{model}#audio") as col:
        ids, skipped = col.add_audio([str(speech / r["audio"]) for r in held],
                                     metadatas=[{"word": r["label"], "voice": r["voice"]} for r in held])
        print(f"{len(ids)} clips by {len({r['voice'] for r in held})} held-out voices in {collection}")
        right = 0
        for word in words:
            found = [h.metadata["word"] for h in col.search(PROMPT.format(word), k=10)]
            right += sum(f == word for f in found)
            print(f"{PROMPT.format(word):<24} {sum(f == word for f in found):>2}/10  {' '.join(found)}")
    print(f"precision@10 over the {len(words)} prompts: {right / (10 * len(words)):.2f}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
