"""PDF to text with pypdf, page by page, keeping where each page starts so that a
chunk knows its page. Encrypted (without an empty password) or corrupt files are
unreadable: a folder walk skips them with a warning."""

import logging
from contextlib import contextmanager
from pathlib import Path

from .batch import Batch, UnreadableFile, whole_file

PAGE_SEPARATOR = "\n\n"  # a paragraph break: the chunker prefers to cut between pages


@contextmanager
def _quiet_pypdf():
    """pypdf logs repairs ("EOF marker not found") as warnings; without a handler they
    would reach stderr through logging's last resort. The reader reports errors itself."""
    logger = logging.getLogger("pypdf")
    handler, propagate = logging.NullHandler(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def pdf_pages(path: Path, source: str) -> tuple[int, list[tuple[int, str]]]:
    """(page count, [(page_no, text), ...]) with 1-based numbers of the pages that hold text."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError

    try:
        with _quiet_pypdf():
            reader = PdfReader(path)
            if reader.is_encrypted and not reader.decrypt(""):
                raise UnreadableFile(f"{source}: encrypted pdf (needs a password)")
            pages = [(n, (page.extract_text() or "").strip()) for n, page in enumerate(reader.pages, start=1)]
    except UnreadableFile:
        raise
    except FileNotDecryptedError:
        raise UnreadableFile(f"{source}: encrypted pdf (needs a password)") from None
    except Exception as e:  # noqa: BLE001
        # damage surfaces from pypdf as PdfReadError, but also as zlib, struct, Key-,
        # Value- and AttributeErrors from deep in a parse: all mean "cannot read this file"
        raise UnreadableFile(f"{source}: not a readable pdf ({type(e).__name__}: {e})") from None
    return len(pages), [(n, text) for n, text in pages if text]


def read_pdf(path: Path, source: str) -> Batch:
    """A pdf as one document: its pages' text joined by blank lines, with
    `pages=[(char_offset, page_no), ...]` and metadata `source` and `page_count`."""
    count, found = pdf_pages(path, source)
    if not found:
        raise UnreadableFile(f"{source}: no text found (a scanned pdf without a text layer?)")
    parts, offsets, at = [], [], 0
    for page_no, text in found:
        offsets.append((at, page_no))
        parts.append(text)
        at += len(text) + len(PAGE_SEPARATOR)
    return whole_file(source, PAGE_SEPARATOR.join(parts), {"page_count": count}, pages=offsets)
