"""Regenerate tests/data/ (the data the tests read, gzipped in the repo) from the full
sets in ../shared/data.

    python tests/data/make_data.py [--source ../shared/data]          # rewrite the copy
    python tests/data/make_data.py --check                            # exit 1 if it differs

Each file is carried whole (the tests check full-set counts and published figures, so
slices would change what they test), gzipped byte-for-byte reproducibly (no name, mtime
0), with SHA256SUMS of the uncompressed files: tests/packed_data.py unpacks and checks
them. The sets' licence files are copied beside them; SciFact and Cranfield ship none,
so their LICENSE.md here is written by hand and left alone.
"""

import argparse
import gzip
import hashlib
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parents[2] / "shared" / "data"
LIMIT = 5 * 1024 * 1024  # each packed file stays under 5 MB (a plain git repo, no LFS)

# set -> (data files the tests read, licence and readme files copied as they are)
SETS = {
    "scifact": (["corpus.jsonl", "queries.jsonl", "qrels/test.tsv", "qrels/train.tsv"], []),
    "cranfield": (["corpus.jsonl", "queries.jsonl", "qrels/test.tsv"], []),
    "stsb": (["sts-train.csv", "sts-dev.csv", "sts-test.csv"], ["LICENSE.txt", "readme.txt"]),
    "banking77": (["train.csv", "test.csv", "categories.json"], ["LICENSE", "README.md"]),
}


def packed_bytes(raw: bytes) -> bytes:
    """gzip level 9 with no file name and mtime 0: the same input always packs the same."""
    return gzip.compress(raw, compresslevel=9, mtime=0)


def sums(source: Path) -> str:
    """SHA256SUMS text (sha256 of each uncompressed data file, `sha  set/path`)."""
    lines = []
    for name, (files, _) in SETS.items():
        for rel in files:
            lines.append(f"{hashlib.sha256((source / name / rel).read_bytes()).hexdigest()}  {name}/{rel}\n")
    return "".join(lines)


def write(source: Path, out: Path) -> None:
    """Pack every data file of SETS from `source` into `out` and copy the licences."""
    for name, (files, notes) in SETS.items():
        for rel in files:
            target = out / name / f"{rel}.gz"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(packed_bytes((source / name / rel).read_bytes()))
            if target.stat().st_size >= LIMIT:
                sys.exit(f"error: {target} is {target.stat().st_size:,} bytes (limit {LIMIT:,})")
        for rel in notes:
            shutil.copyfile(source / name / rel, out / name / Path(rel).name)
    (out / "SHA256SUMS").write_text(sums(source), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help="the full sets (default ../shared/data)")
    parser.add_argument("--check", action="store_true", help="only compare SHA256SUMS with the source")
    args = parser.parse_args()
    if not args.source.is_dir():
        sys.exit(f"error: source: {args.source} is not a folder")
    if args.check:
        same = sums(args.source) == (HERE / "SHA256SUMS").read_text(encoding="utf-8")
        print("tests/data matches the source" if same else "tests/data differs from the source: run make_data.py")
        sys.exit(0 if same else 1)
    write(args.source, HERE)
    print(f"wrote {HERE} from {args.source}")


if __name__ == "__main__":
    main()
