"""Read input files into records (id, text, metadata), failing with file:line on the
first bad record so that the file's batch is rejected whole.

Formats by extension: jsonl/ndjson and csv (records), parquet (records, a `text`
column), txt/md, html/htm and pdf (one document per file, whose id and `source` are
the path as given). A record without an id is `<file>:<row>` (row from 0). Markdown
and HTML are stored as their visible text (markdown.py, html.py); the original stays
in the file that metadata `source` names."""

import csv
import io
import json
import sys
from pathlib import Path
from typing import Iterable

from ..errors import EmbkitError
from ..validate import MAX_METADATA_DEPTH
from .batch import Batch, UnreadableFile, check_id, check_text, whole_file

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".txt": "txt", ".md": "md", ".markdown": "md",
           ".html": "html", ".htm": "html", ".pdf": "pdf", ".parquet": "parquet"}


def read_source(source: str, text_column: str = "text", id_column: str = "id", name: str | None = None) -> Batch:
    """Read a file (by extension) or `-` (stdin, jsonl) into one batch. A file that
    cannot be read at all raises `UnreadableFile`; a bad record, `EmbkitError`.
    `name`: what the file is called in ids, metadata and errors, if not its path as
    given (a Ray worker reads by absolute path a file the user named relatively)."""
    if source == "-":  # no name to derive ids from: records without one get a uuid when written
        return read_jsonl(sys.stdin, "<stdin>", text_column, id_column)
    batch = _read_file(Path(source), name if name is not None else str(Path(source)), text_column, id_column)
    # a record without an id is `<file>:<row>` (row from 0), the same in every door and every run
    batch.ids = [f"{batch.source}:{i}" if doc_id is None else doc_id for i, doc_id in enumerate(batch.ids)]
    return batch


def _read_file(path: Path, source: str, text_column: str, id_column: str) -> Batch:
    """The file at `path`, by extension, called `source` in ids, metadata and errors."""
    if not path.is_file():
        raise EmbkitError(f"{source}: no such file")
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise UnreadableFile(f"{source}: unknown format {path.suffix or '(none)'!r} "
                             f"(known: {', '.join(sorted(FORMATS))})")
    if kind == "pdf":
        from .pdf import read_pdf  # pypdf is imported only when a pdf is read

        return read_pdf(path, source)
    if kind == "parquet":
        from .parquet import read_parquet  # so is pyarrow

        return read_parquet(path, source, text_column, id_column)
    try:
        if kind == "html":
            from .html import read_html

            return read_html(path, source)
        if kind == "md":
            from .markdown import read_markdown  # markdown-it is imported only when markdown is read

            return read_markdown(path, source)
        if kind == "txt":
            return whole_file(source, path.read_text(encoding="utf-8"))
        with open(path, encoding="utf-8", newline="") as f:
            if kind == "csv":
                return read_csv(f, source, text_column, id_column)
            return read_jsonl(f, source, text_column, id_column)
    except UnicodeDecodeError as e:
        raise UnreadableFile(f"{source}: not UTF-8 text ({e.reason} at byte {e.start})") from None


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
        except RecursionError:  # far past the limit every field other than the text is held to
            raise EmbkitError(f"{source}:{number}: metadata: nested more than {MAX_METADATA_DEPTH} levels deep "
                              "(limit max_metadata_depth)") from None
        if not isinstance(row, dict):
            raise EmbkitError(f"{source}:{number}: expected a JSON object, got {type(row).__name__}")
        text = row.pop(text_column, None)
        check_text(text, source, number, text_column)
        doc_id = check_id(row.pop(id_column, None), source, number, id_column)
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
        check_text(text, source, number, text_column)
        doc_id = check_id(row.pop(id_column, None) or None, source, number, id_column)
        batch.append(doc_id, text, row, number)
    return batch


def _reject_constant(name: str):
    raise json.JSONDecodeError(f"{name} is not valid JSON", name, 0)
