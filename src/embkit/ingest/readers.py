"""Read input files into records (id, text, metadata), failing with file:line on the
first bad record so that the file's batch is rejected whole."""

import csv
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..errors import EmbkitError

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".txt": "txt", ".md": "md", ".markdown": "md"}


@dataclass
class Batch:
    """Everything read from one source: one transaction when written."""

    source: str
    ids: list[str | None] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    metadatas: list[dict] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # where each record was read
    _seen: dict[str, int] = field(default_factory=dict, repr=False)

    def append(self, doc_id: str | None, text: str, metadata: dict, line: int = 1) -> None:
        if doc_id is not None:
            if doc_id in self._seen:
                raise EmbkitError(f"{self.source}:{line}: duplicate id {doc_id!r} (first on line {self._seen[doc_id]})")
            self._seen[doc_id] = line
        self.ids.append(doc_id)
        self.texts.append(text)
        self.metadatas.append(metadata)
        self.lines.append(line)

    def where(self, index: int) -> str:
        """`file:line` of record `index`, for error messages."""
        return f"{self.source}:{self.lines[index]}"

    def __len__(self) -> int:
        return len(self.texts)


def read_source(source: str, text_column: str = "text", id_column: str = "id") -> Batch:
    """Read a file (by extension) or `-` (stdin, jsonl) into one batch."""
    if source == "-":
        return read_jsonl(sys.stdin, "<stdin>", text_column, id_column)
    path = Path(source)
    if not path.is_file():
        raise EmbkitError(f"{source}: no such file")
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise EmbkitError(f"{source}: unknown format {path.suffix or '(none)'!r} "
                          f"(known: {', '.join(sorted(FORMATS))})")
    try:
        if kind in ("txt", "md"):
            return read_whole_file(path)
        with open(path, encoding="utf-8", newline="") as f:
            if kind == "csv":
                return read_csv(f, source, text_column, id_column)
            return read_jsonl(f, source, text_column, id_column)
    except UnicodeDecodeError as e:
        raise EmbkitError(f"{source}: not UTF-8 text ({e.reason} at byte {e.start})") from None


def read_jsonl(lines: Iterable[str], source: str, text_column: str = "text", id_column: str = "id") -> Batch:
    """One JSON object a line: `text_column` is the text, `id_column` the optional id,
    a `metadata` object and every other field become metadata."""
    batch = Batch(source)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line, parse_constant=_reject_constant)
        except json.JSONDecodeError as e:
            raise EmbkitError(f"{source}:{number}: malformed JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(row, dict):
            raise EmbkitError(f"{source}:{number}: expected a JSON object, got {type(row).__name__}")
        text = row.pop(text_column, None)
        _check_text(text, source, number, text_column)
        doc_id = _check_id(row.pop(id_column, None), source, number, id_column)
        metadata = row.pop("metadata", None) or {}
        if not isinstance(metadata, dict):
            raise EmbkitError(f"{source}:{number}: field 'metadata' must be an object")
        batch.append(doc_id, text, {**row, **metadata}, number)
    return batch


def read_csv(f: io.TextIOBase, source: str, text_column: str = "text", id_column: str = "id") -> Batch:
    """A header row; `text_column` is the text, `id_column` (if present) the id, every
    other column metadata (as strings)."""
    reader = csv.DictReader(f)
    if reader.fieldnames is None or text_column not in reader.fieldnames:
        found = ", ".join(reader.fieldnames or []) or "no header"
        raise EmbkitError(f"{source}:1: no column {text_column!r} (columns: {found}); choose one with --text-column")
    batch = Batch(source)
    for row in reader:
        number = reader.line_num
        if None in row:
            raise EmbkitError(f"{source}:{number}: more fields than the header has")
        text = row.pop(text_column)
        _check_text(text, source, number, text_column)
        doc_id = _check_id(row.pop(id_column, None) or None, source, number, id_column)
        batch.append(doc_id, text, row, number)
    return batch


def read_whole_file(path: Path) -> Batch:
    """A txt or md file is one document; its path is its id and its `source`."""
    text = path.read_text(encoding="utf-8")
    _check_text(text, str(path), 1, "text")
    batch = Batch(str(path))
    batch.append(str(path), text, {"source": str(path)})
    return batch


def _reject_constant(name: str):
    raise json.JSONDecodeError(f"{name} is not valid JSON", name, 0)


def _check_text(text, source: str, number: int, column: str) -> None:
    if text is None:
        raise EmbkitError(f"{source}:{number}: missing field {column!r}")
    if not isinstance(text, str):
        raise EmbkitError(f"{source}:{number}: field {column!r} must be a string")
    if not text.strip():
        raise EmbkitError(f"{source}:{number}: field {column!r} is empty or whitespace-only")


def _check_id(doc_id, source: str, number: int, column: str) -> str | None:
    if doc_id is None:
        return None
    if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)) or str(doc_id).strip() == "":
        raise EmbkitError(f"{source}:{number}: field {column!r} must be a non-empty string or integer")
    return str(doc_id)
