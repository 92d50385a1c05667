"""Cross-lingual retrieval on SciFact: 100 test claims translated into German, Spanish,
French and Portuguese (tests/data/crosslingual/, with their source) searched against the
English corpus; recall@10 and nDCG@10 against the English claims' relevant documents,
per model and language, through `embkit eval retrieval` (documents and queries embedded
with the model's prompts by role, as it was trained).

Each language is a BEIR folder holding the same corpus bytes, so the corpus is embedded
once per model (eval's cache, EMBKIT_HOME/eval) and only the queries differ.
`--distractors N` cuts the corpus to every test query's relevant documents plus N
others (a fixed sample) for a shorter run; 0 (the default) keeps all 5,183.

    EMBKIT_HOME=/tmp/V/home .venv/bin/python benchmarks/bench_crosslingual.py \
        [--scifact ../shared/data/scifact] [--models e5-small-multilingual,minilm] [--distractors 0]
"""

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import embkit
from embkit.evaluate.retrieval import eval_retrieval

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "tests" / "data" / "crosslingual" / "scifact-test-queries.jsonl"
LANGUAGES = ("en", "de", "es", "fr", "pt")


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def corpus_lines(scifact: Path, distractors: int) -> list[str]:
    """The corpus's lines: all of them, or the test split's relevant documents plus
    `distractors` others (seeded sample, file order kept)."""
    lines = [line for line in (scifact / "corpus.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    if not distractors:
        return lines
    rows = (scifact / "qrels" / "test.tsv").read_text().splitlines()[1:]
    relevant = {row.split("\t")[1] for row in rows}
    ids = [json.loads(line)["_id"] for line in lines]
    others = random.Random(0).sample(sorted(set(ids) - relevant), distractors)
    keep = relevant | set(others)
    return [line for line, docid in zip(lines, ids) if docid in keep]


def language_folders(scifact: Path, work: Path, distractors: int) -> dict[str, Path]:
    """One BEIR folder per language: the same corpus bytes, the translated queries under
    the English ids, the test qrels of those queries."""
    translated = _jsonl(TRANSLATIONS)
    ids = {row["_id"] for row in translated}
    corpus = "".join(line + "\n" for line in corpus_lines(scifact, distractors))
    qrels = [row for row in (scifact / "qrels" / "test.tsv").read_text().splitlines()[1:]
             if row.split("\t")[0] in ids]
    folders = {}
    for lang in LANGUAGES:
        folder = work / f"scifact-{lang}"
        (folder / "qrels").mkdir(parents=True, exist_ok=True)
        (folder / "corpus.jsonl").write_text(corpus, encoding="utf-8")
        (folder / "queries.jsonl").write_text("".join(
            json.dumps({"_id": row["_id"], "text": row[lang]}, ensure_ascii=False) + "\n" for row in translated),
            encoding="utf-8")
        (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(qrels) + "\n")
        folders[lang] = folder
    return folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scifact", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    parser.add_argument("--models", default="e5-small-multilingual,minilm")
    parser.add_argument("--distractors", type=int, default=0)
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args()
    results: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="crosslingual-") as work:
        folders = language_folders(args.scifact, Path(work), args.distractors)
        for model in args.models.split(","):
            for lang, folder in folders.items():
                report = eval_retrieval(folder, model=model, collections=embkit,
                                        measures=("recall@10", "ndcg@10"))
                results.setdefault(model, {})[lang] = report["metrics"]
                print(f"{model:<24} {lang}  recall@10 {report['metrics']['recall@10']:.3f}  "
                      f"nDCG@10 {report['metrics']['ndcg@10']:.3f}", file=sys.stderr, flush=True)
            documents = report["documents"]
    print(f"recall@10 (nDCG@10) of {len(_jsonl(TRANSLATIONS))} SciFact test claims, {documents:,} English documents")
    print(f"| model | {' | '.join(LANGUAGES)} |\n|---|{'---|' * len(LANGUAGES)}")
    for model, by_lang in results.items():
        cells = [f"{m['recall@10']:.3f} ({m['ndcg@10']:.3f})" for m in (by_lang[lang] for lang in LANGUAGES)]
        print(f"| {model} | {' | '.join(cells)} |")
    if args.json:
        args.json.write_text(json.dumps({"documents": documents, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
