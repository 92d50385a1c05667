"""Markdown to the text a reader sees, parsed with markdown-it (CommonMark and tables):
inline HTML tags dropped (their inner text kept), link text without its target, images
as their alt text, code without its fence markers, headings as the document's outline.
Container markers, front matter and include directives go before parsing
(markdown_source.py); HTML blocks are reduced to their visible text as HTML files are."""

import html
import re
from pathlib import Path

from markdown_it import MarkdownIt

from .batch import Batch, UnreadableFile, whole_file
from .html import html_headings
from .markdown_source import clean_lines, front_matter
from .outline import Heading, Section, section_paths

_PARSER = MarkdownIt("commonmark").enable("table").enable("strikethrough")
# mkdocs attribute lists left in the text: `{ width="300" }`, `{: #id .class }`, `{#setup}`
# (items apart by spaces: each parses one way, so no text makes the match backtrack for long)
_ATTR = r"""(?:[#.][\w-]+|[\w-]+=(?:"[^"]*"|'[^']*'|[^\s}]+))"""
_ATTR_LIST = re.compile(rf"[ \t]*\{{:?[ \t]*{_ATTR}(?:[ \t]+{_ATTR})*[ \t]*\}}")
_BREAK_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
# presentational tags inside terminal transcripts (```console with <font color=...>, which
# a docs site's script colours) are not the program's output; in source code they stay
_STYLE_TAGS = re.compile(r"</?(?:span|font|b|i|u|s|em|strong|small|mark|kbd|code|a)(?:\s[^<>]*)?>", re.IGNORECASE)
_TRANSCRIPTS = {"", "console", "terminal", "termy", "shell-session", "sh-session", "bash", "sh", "shell", "zsh",
                "text", "txt", "plain", "plaintext", "output", "log"}
# blocks whose end is a paragraph break (the chunker's preferred cut after a heading's)
_PARAGRAPHS = {"paragraph_close", "heading_close", "blockquote_close", "bullet_list_close", "ordered_list_close",
               "table_close", "hr"}


class _Writer:
    """Accumulates the visible text with block breaks, tracking heading offsets."""

    def __init__(self):
        self.parts: list[str] = []
        self.size = 0
        self.pending = 0  # line breaks owed before the next text
        self.headings: list[Heading] = []

    def brk(self, n: int) -> None:
        self.pending = max(self.pending, n)

    def write(self, text: str, heading: int = 0) -> None:
        """Append a block's text; `heading`: its level, when it is a heading."""
        text = text.strip("\n")
        if not text.strip():
            return
        if self.parts and self.pending:
            self.parts.append("\n" * self.pending)
            self.size += self.pending
        self.pending = 0
        if heading:
            self.headings.append((self.size, heading, text))
        self.parts.append(text)
        self.size += len(text)

    def html(self, markup: str) -> None:
        """An HTML block: its visible text, its h1-h6 joining the outline."""
        text, _, headings = html_headings(markup)
        if not text.strip():
            return
        self.brk(2)
        base = self.size + (self.pending if self.parts else 0)  # where `text` will start
        self.write(text)
        self.headings += [(base + offset, level, title) for offset, level, title in headings]
        self.brk(2)


def _inline(token) -> str:
    """An inline token's visible text."""
    out = []
    for child in token.children or []:
        if child.type == "text":
            out.append(_ATTR_LIST.sub("", child.content))
        elif child.type == "code_inline":
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif child.type == "image":  # its alt text (what a screen reader or a missing image shows)
            out.append(_inline(child) if child.children else child.content)
        elif child.type == "html_inline" and _BREAK_TAG.fullmatch(child.content.strip()):
            out.append("\n")
    return "".join(out)


def _code(token) -> str:
    """A code block's text, without its fence (and without colouring tags in a transcript)."""
    info = (token.info or "").split()
    language = info[0].strip("{.}").lower() if info else ""
    text = token.content.rstrip("\n")
    if language not in _TRANSCRIPTS or not _STYLE_TAGS.search(text):
        return text
    return html.unescape(_STYLE_TAGS.sub("", text))  # coloured output is HTML: its entities too


def _render(tokens) -> _Writer:
    out = _Writer()
    row: list[str] | None = None
    for i, token in enumerate(tokens):
        kind = token.type
        if kind == "inline":
            text = _inline(token)
            if row is not None:
                row.append(" ".join(text.split()))
            else:
                opener = tokens[i - 1] if i else None
                level = int(opener.tag[1]) if opener is not None and opener.type == "heading_open" else 0
                out.write(" ".join(text.split()) if level else text, heading=level)
        elif kind in ("fence", "code_block"):
            out.brk(2)
            out.write(_code(token))
            out.brk(2)
        elif kind == "html_block":
            out.html(token.content)
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close":
            out.write(" ".join(cell for cell in row if cell))
            out.brk(1)
            row = None
        elif kind == "list_item_close" or kind == "paragraph_close" and token.hidden:  # tight list items
            out.brk(1)
        elif kind in _PARAGRAPHS:
            out.brk(2)
    return out


def markdown_headings(markup: str) -> tuple[str, str | None, list[Heading]]:
    """(visible text, front matter title or None, [(offset, level, heading text), ...])."""
    lines, title = front_matter(markup.splitlines())
    out = _render(_PARSER.parse("\n".join(clean_lines(lines))))
    return "".join(out.parts), title, out.headings


def markdown_visible(markup: str) -> tuple[str, str | None, list[Section]]:
    """(visible text, front matter title or None, [(offset, heading path), ...]) of markdown."""
    text, title, headings = markdown_headings(markup)
    return text, title, section_paths(headings)


def read_markdown(path: Path, source: str) -> Batch:
    """A markdown file as one document: its visible text, metadata `source` (and `title`
    from front matter), and its sections for the chunker."""
    try:
        markup = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise UnreadableFile(f"{source}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    text, title, sections = markdown_visible(markup)
    return whole_file(source, text, {"title": title} if title else None, sections=sections or None)
