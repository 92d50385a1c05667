"""What a reader returns: one file's documents as one batch, and the checks every
reader applies to a record (each error names file:line, the field and the problem)."""

from dataclasses import dataclass, field

from ..errors import EmbkitError


class UnreadableFile(EmbkitError):
    """The file as a whole cannot be read (unknown format, not UTF-8, corrupt or
    encrypted pdf, no text at all). A folder walk skips such a file with a warning;
    a file named on the command line is still an error."""


@dataclass
class Batch:
    """Everything read from one source: one transaction when written. `pages` holds,
    per document, the [(char_offset, page_no), ...] of a pdf's pages (None otherwise);
    `sections`, the [(char_offset, heading_path), ...] of a markdown or HTML document's
    headings (None otherwise), where the chunker prefers to cut."""

    source: str
    ids: list[str | None] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    metadatas: list[dict] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # where each record was read
    pages: list[list[tuple[int, int]] | None] = field(default_factory=list)
    sections: list[list[tuple[int, str]] | None] = field(default_factory=list)
    _seen: dict[str, int] = field(default_factory=dict, repr=False)

    def append(self, doc_id: str | None, text: str, metadata: dict, line: int = 1,
               pages: list[tuple[int, int]] | None = None, sections: list[tuple[int, str]] | None = None) -> None:
        """Add one record; a repeated id within the file is an error naming both lines."""
        if doc_id is not None:
            if doc_id in self._seen:
                raise EmbkitError(f"{self.source}:{line}: duplicate id {doc_id!r} (first on line {self._seen[doc_id]})")
            self._seen[doc_id] = line
        self.ids.append(doc_id)
        self.texts.append(text)
        self.metadatas.append(metadata)
        self.lines.append(line)
        self.pages.append(pages)
        self.sections.append(sections)

    def where(self, index: int) -> str:
        """`file:line` of record `index`, for error messages."""
        return f"{self.source}:{self.lines[index]}"

    def __len__(self) -> int:
        return len(self.texts)


def check_text(text, source: str, number: int, column: str) -> None:
    """A record's text must be a non-blank string."""
    if text is None:
        raise EmbkitError(f"{source}:{number}: missing field {column!r}")
    if not isinstance(text, str):
        raise EmbkitError(f"{source}:{number}: field {column!r} must be a string")
    if not text.strip():
        raise EmbkitError(f"{source}:{number}: field {column!r} is empty or whitespace-only")


def check_id(doc_id, source: str, number: int, column: str) -> str | None:
    """A record's id, if any, is a non-empty string or integer; returned as a string."""
    if doc_id is None:
        return None
    if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)) or str(doc_id).strip() == "":
        raise EmbkitError(f"{source}:{number}: field {column!r} must be a non-empty string or integer")
    return str(doc_id)


def whole_file(source: str, text: str, metadata: dict | None = None,
               pages: list[tuple[int, int]] | None = None, sections: list[tuple[int, str]] | None = None) -> Batch:
    """A file that is one document (txt, md, html, pdf): its path is its id and its
    `source`; a file without any text cannot be read as a document."""
    if not text.strip():
        raise UnreadableFile(f"{source}: no text found")
    batch = Batch(source)
    batch.append(source, text, {"source": source, **(metadata or {})}, pages=pages, sections=sections)
    return batch
