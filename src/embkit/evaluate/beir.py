"""Read a BEIR-format dataset folder: corpus.jsonl, queries.jsonl and qrels/<split>.tsv.

Bad input is an EmbkitError naming the file (and the line where there is one); qrels rows
that point at unknown queries or documents are refused rather than silently dropped,
because dropping them would quietly inflate every metric.
"""

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..errors import EmbkitError

QRELS_HEADER = ["query-id", "corpus-id", "score"]


@dataclass
class BeirData:
    """One split of a BEIR dataset: the whole corpus, the split's queries and their judgments."""

    corpus: dict[str, dict[str, str]]  # docid -> {"title", "text"}
    queries: dict[str, str]  # qid -> text, only the queries judged in this split
    qrels: dict[str, dict[str, int]]  # qid -> {docid: gain}
    split: str = "test"
    folder: Path | None = field(default=None, repr=False)

    def doc_text(self, docid: str) -> str:
        """Title and text joined by a space and stripped (the usual way to embed SciFact)."""
        if docid not in self.corpus:
            raise EmbkitError(f"docid: {docid!r} is not in the corpus")
        doc = self.corpus[docid]
        return f"{doc['title']} {doc['text']}".strip()


def _paths(folder: str | Path, split: str) -> tuple[Path, Path, Path]:
    """The corpus, queries and qrels paths, each checked to exist."""
    root = Path(folder)
    if not root.is_dir():
        raise EmbkitError(f"folder: {root} does not exist or is not a folder")
    corpus, queries = root / "corpus.jsonl", root / "queries.jsonl"
    for path in (corpus, queries):
        if not path.is_file():
            raise EmbkitError(f"{path}: file not found (a BEIR folder holds corpus.jsonl, queries.jsonl, qrels/)")
    qrels = root / "qrels" / f"{split}.tsv"
    if not qrels.is_file():
        splits = sorted(p.stem for p in (root / "qrels").glob("*.tsv"))
        raise EmbkitError(f"split: {qrels} not found; splits available: {', '.join(splits) or 'none'}")
    return corpus, queries, qrels


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) for each non-blank line, decoded as UTF-8."""
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                raise EmbkitError(f"{path}:{lineno}: not valid UTF-8") from None
            if line.strip():
                yield lineno, line


def _read_jsonl(path: Path, required: tuple[str, ...]) -> dict[str, dict]:
    """Records keyed by ``_id`` (as a string), in file order."""
    records: dict[str, dict] = {}
    for lineno, line in _lines(path):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise EmbkitError(f"{path}:{lineno}: bad JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(row, dict):
            raise EmbkitError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
        for key in ("_id", *required):
            if key not in row:
                raise EmbkitError(f"{path}:{lineno}: missing {key!r}")
        for key in ("title", "text"):
            if row.get(key) is not None and not isinstance(row[key], str):
                raise EmbkitError(f"{path}:{lineno}: {key!r} must be a string, got {type(row[key]).__name__}")
        rid = str(row["_id"])
        if rid in records:
            raise EmbkitError(f"{path}:{lineno}: duplicate _id {rid!r}")
        records[rid] = row
    if not records:
        raise EmbkitError(f"{path}: no records")
    return records


def _read_qrels(path: Path) -> list[tuple[int, str, str, int]]:
    """(line number, qid, docid, gain) rows after checking the header."""
    rows: list[tuple[int, str, str, int]] = []
    lines = _lines(path)
    header = next(lines, None)
    if header is None:
        return rows
    if [f.strip() for f in header[1].split("\t")] != QRELS_HEADER:
        raise EmbkitError(f"{path}:{header[0]}: header must be {chr(9).join(QRELS_HEADER)!r}, got {header[1]!r}")
    for lineno, line in lines:
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) != 3:
            raise EmbkitError(f"{path}:{lineno}: expected 3 tab-separated fields (query-id, corpus-id, score)")
        try:
            gain = int(fields[2])
        except ValueError:
            raise EmbkitError(f"{path}:{lineno}: score {fields[2]!r} is not an integer") from None
        rows.append((lineno, fields[0], fields[1], gain))
    return rows


def _check_known(path: Path, rows: list, column: int, known: dict, what: str, source: Path) -> None:
    """Refuse qrels rows whose id (in ``column``) is not in ``known``; name the first and the count."""
    bad = [row for row in rows if row[column] not in known]
    if bad:
        lineno, first = bad[0][0], bad[0][column]
        raise EmbkitError(
            f"{path}:{lineno}: {what} {first!r} is not in {source}; {len(bad)} qrels row(s) name an unknown {what}"
        )


def load_beir(folder: str | Path, split: str = "test") -> BeirData:
    """Load ``split`` of the BEIR dataset in ``folder``; queries are limited to those the split judges."""
    corpus_path, queries_path, qrels_path = _paths(folder, split)
    docs = _read_jsonl(corpus_path, required=())
    corpus = {d: {"title": r.get("title") or "", "text": r.get("text") or ""} for d, r in docs.items()}
    all_queries = {q: r["text"] or "" for q, r in _read_jsonl(queries_path, required=("text",)).items()}
    rows = _read_qrels(qrels_path)
    if not rows:
        raise EmbkitError(f"{qrels_path}: split {split!r} has no qrels rows")
    _check_known(qrels_path, rows, 1, all_queries, "query", queries_path)
    _check_known(qrels_path, rows, 2, corpus, "document", corpus_path)
    qrels: dict[str, dict[str, int]] = {}
    for lineno, qid, docid, gain in rows:
        if qrels.get(qid, {}).get(docid, gain) != gain:
            raise EmbkitError(f"{qrels_path}:{lineno}: conflicting score for query {qid!r}, document {docid!r}")
        qrels.setdefault(qid, {})[docid] = gain
    queries = {qid: all_queries[qid] for qid in qrels}
    return BeirData(corpus=corpus, queries=queries, qrels=qrels, split=split, folder=Path(folder))


def content_hash(folder: str | Path, split: str = "test") -> str:
    """sha256 hex digest over the corpus, queries and qrels/<split>.tsv bytes, for keying caches."""
    digest = hashlib.sha256()
    for path in _paths(folder, split):
        # Name and size first, so moving bytes from one file to the next changes the hash.
        digest.update(f"{path.name}\0{path.stat().st_size}\0".encode())
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
