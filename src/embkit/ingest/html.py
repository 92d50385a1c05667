"""HTML to the text a reader sees: visible text only, block elements as line breaks,
entities decoded, the <title> kept as metadata, h1-h6 as the document's outline (where
each section starts in the text). Standard library only."""

import re
from html.parser import HTMLParser
from pathlib import Path

from .batch import Batch, UnreadableFile, whole_file
from .outline import Heading, Section, section_paths

SKIP = {"script", "style", "head", "noscript", "template"}
# Paragraph-like blocks get a blank line (a paragraph break the chunker prefers to cut
# at); other blocks and <br> a single line break.
PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "ul", "ol", "dl",
             "section", "article", "header", "footer", "nav", "aside", "main", "figure", "form", "hr"}
LINE = {"br", "div", "li", "tr", "dt", "dd", "figcaption", "fieldset", "address", "details", "summary",
        "caption", "body", "html"}
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)
HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# Marks where a heading's text begins while the text is still being cleaned up (the
# whitespace rules move offsets); removed, with its positions noted, at the end.
_MARK = "\ue000"


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)  # entities arrive decoded in handle_data
        self.parts: list[str] = []
        self.title: list[str] = []
        self.skipping: list[str] = []  # open elements whose content is not shown
        self.in_title = False
        self.pre = 0
        self.pending = 0  # line breaks owed before the next text (adjacent blocks share them)
        self.headings: list[tuple[int, list[str]]] = []  # (level, its text pieces), marked in order
        self.heading: list[str] | None = None  # the open heading's text pieces
        self.heading_level = 0  # the open heading's level, until its first text is marked

    def handle_starttag(self, tag, attrs):
        if tag == "body":  # <head> may be left open: the body closes it
            self.skipping = [t for t in self.skipping if t != "head"]
        if tag in SKIP:
            self.skipping.append(tag)
        elif tag == "title":
            self.in_title = True
        elif tag in HEADINGS and not self.skipping:
            self.heading, self.heading_level = [], HEADINGS[tag]
        elif tag in ("td", "th") and not self.skipping and self.parts and not self.parts[-1][-1:].isspace():
            self.parts.append(" ")  # cells written side by side (`<td>a</td><td>1</td>`) are two words
        self._block(tag)
        self.pre += tag == "pre"

    def handle_startendtag(self, tag, attrs):
        self._block(tag)

    def handle_endtag(self, tag):
        if tag in SKIP and tag in self.skipping:
            del self.skipping[len(self.skipping) - 1 - self.skipping[::-1].index(tag):]
        elif tag == "title":
            self.in_title = False
        elif tag in HEADINGS:
            self.heading, self.heading_level = None, 0
        self.pre -= tag == "pre" and self.pre > 0
        self._block(tag)

    def handle_data(self, data):
        if self.in_title:
            self.title.append(data)
        elif not self.skipping:
            data = data.replace(_MARK, "")
            data = data if self.pre else re.sub(r"\s+", " ", data)
            if self.pending and data.strip():
                self.parts.append("\n" * self.pending)
                self.pending = 0
            if self.heading is not None:
                if self.heading_level and data.strip():  # the heading's first text: mark where it starts
                    self.headings.append((self.heading_level, self.heading))
                    self.heading_level = 0
                    data = _MARK + data.lstrip()  # at a block start, where the cleanup drops spaces anyway
                self.heading.append(data)
            self.parts.append(data)

    def _block(self, tag):
        if not self.skipping and (tag in PARAGRAPH or tag in LINE):
            step = 2 if tag in PARAGRAPH else 1
            # <br><br> is a blank line; nested blocks (</li></ul>) still one break
            self.pending = min(2, self.pending + 1) if tag == "br" else max(self.pending, step)


def html_text(markup: str) -> tuple[str, str | None]:
    """(visible text, title or None) of an HTML document (no outline: nothing to chunk)."""
    text, title, _ = html_headings(markup)
    return text, title


def html_headings(markup: str) -> tuple[str, str | None, list[Heading]]:
    """(visible text, title or None, [(offset, level, heading text), ...]) of an HTML document."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t\r\f\v]*\n[ \t\r\f\v]*", "\n", text)  # no spaces around line breaks
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    offsets = [m.start() - i for i, m in enumerate(re.finditer(_MARK, text))]
    headings = [(offset, level, "".join(pieces).replace(_MARK, ""))
                for offset, (level, pieces) in zip(offsets, parser.headings)]
    title = " ".join("".join(parser.title).split()) or None
    return text.replace(_MARK, ""), title, headings


def html_visible(markup: str) -> tuple[str, str | None, list[Section]]:
    """(visible text, title or None, [(offset, heading path), ...]) of an HTML document."""
    text, title, headings = html_headings(markup)
    return text, title, section_paths(headings)


def decode(raw: bytes, source: str) -> str:
    """UTF-8 (with or without BOM), else the charset a <meta> tag declares."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        declared = _CHARSET.search(raw[:4096])
        if declared:
            try:
                return raw.decode(declared.group(1).decode("ascii"))
            except (LookupError, UnicodeDecodeError):
                pass
        raise UnreadableFile(f"{source}: not UTF-8 text ({e.reason} at byte {e.start}) "
                             "and no usable <meta charset>") from None


def read_html(path: Path, source: str) -> Batch:
    """An html/htm file as one document: its visible text, metadata `source` and `title`,
    and its sections (h1-h6) for the chunker."""
    text, title, sections = html_visible(decode(path.read_bytes(), source))
    return whole_file(source, text, {"title": title} if title else None, sections=sections or None)
