"""Ask the standard-library collection questions in plain words and print the answers."""

import sys
import time

import embkit

QUERIES = [
    "parse command line arguments",
    "compress a file",
    "run a function in parallel",
    "send an email",
    "read a CSV file",
    "generate a random password",
    "measure how long code takes to run",
    "copy a directory tree",
]


def main(path: str) -> None:
    col = embkit.open(path)
    print(f"\n{col.count()} docstrings in {path} (model {col.space.model}, {col.space.metric})")
    start = time.perf_counter()
    for query in QUERIES:
        print(f"\n> {query}")
        for rank, hit in enumerate(col.search(query, k=5), start=1):
            print(f"  {rank}. {hit.score:.3f}  {hit.id:<45} {hit.text[len(hit.id) + 2:][:70]}")
    print(f"\n> compress a file   (only classes: where={{'kind': 'class'}})")
    for rank, hit in enumerate(col.search("compress a file", k=3, where={"kind": "class"}), start=1):
        print(f"  {rank}. {hit.score:.3f}  {hit.id}")
    print("\n> more like json.dumps")
    for rank, hit in enumerate(col.search(like="json.dumps", k=3), start=1):
        print(f"  {rank}. {hit.score:.3f}  {hit.id}")
    print(f"\n{len(QUERIES) + 2} searches in {time.perf_counter() - start:.2f}s")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "demo-output/stdlib")
