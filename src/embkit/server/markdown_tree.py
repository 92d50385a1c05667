"""A document as a tree the web page builds with createElement and text nodes (never
parsed as HTML): a node is a string (text) or [tag, {attributes}, *children], with tags
and attributes from a short allow-list. Markdown is parsed with markdown-it as ingest
parses it; raw HTML in it never becomes an element (inline tags are dropped, their
inner text kept, as ingest does; an HTML block shows as its visible text).

The hit's passage is marked by its place among the text's non-space characters: the
tree's text and the stored text differ in whitespace only, so the n-th non-space
character of one is the n-th of the other."""

import re

from markdown_it import MarkdownIt

from ..ingest.html import html_headings
from ..ingest.markdown import markdown_visible
from ..ingest.markdown_source import clean_lines, front_matter

_PARSER = MarkdownIt("commonmark").enable("table").enable("strikethrough")
_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "pre", "code", "em", "strong",
         "s", "a", "table", "thead", "tbody", "tr", "th", "td", "hr", "br"}
_SAFE_HREF = re.compile(r"^(?:https?:|mailto:|#)", re.IGNORECASE)
_BREAK_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
ANCHOR = 48  # non-space characters matched at each end of a passage that is not where expected


def markdown_tree(markup: str) -> list:
    """The children of the document's root: markdown rendered as a safe tree."""
    lines, _title = front_matter(markup.splitlines())
    root: list = ["div", {}]
    stack = [root]
    for token in _PARSER.parse("\n".join(clean_lines(lines))):
        if token.type == "inline":
            _inline(token.children or [], stack[-1])
        elif token.type in ("fence", "code_block"):
            language = (token.info or "").split()[:1]
            attrs = {"class": "language-" + language[0].strip("{.}")} if language else {}
            stack[-1].append(["pre", {}, ["code", attrs, _code_text(token)]])
        elif token.type == "html_block":
            text = html_headings(token.content)[0]
            if text.strip():
                stack[-1].append(["p", {"class": "html-block"}, text])
        elif token.type == "hr":
            stack[-1].append(["hr", {}])
        elif token.hidden:  # the paragraphs of a tight list
            continue
        elif token.nesting == 1:
            node = [token.tag if token.tag in _TAGS else "div", _block_attrs(token)]
            stack[-1].append(node)
            stack.append(node)
        elif token.nesting == -1 and len(stack) > 1:
            stack.pop()
    return root[2:]


def _code_text(token) -> str:
    """A code block's text as ingest reads it (a terminal transcript without the tags
    that colour it): ingest's reading of the block alone, fenced with more tildes than
    any run of them inside."""
    fence = "~" * max(3, 1 + max(map(len, re.findall("~+", token.content)), default=0))
    return markdown_visible(f"{fence}{token.info}\n{token.content}{fence}\n")[0]


def _block_attrs(token) -> dict:
    start = token.attrGet("start") if token.tag == "ol" else None
    return {"start": str(start)} if start is not None else {}


def _inline(children, parent: list) -> None:
    stack = [parent]
    for child in children:
        kind = child.type
        if kind == "text":
            stack[-1].append(child.content)
        elif kind == "code_inline":
            stack[-1].append(["code", {}, child.content])
        elif kind == "softbreak":
            stack[-1].append("\n")
        elif kind == "hardbreak" or kind == "html_inline" and _BREAK_TAG.fullmatch(child.content.strip()):
            stack[-1].append(["br", {}])
        elif kind == "image":  # its alt text: no picture is fetched from a document's links
            alt = "".join(c.content for c in child.children or []) or child.content
            if alt:
                stack[-1].append(["span", {"class": "image-alt"}, alt])
        elif kind.endswith("_open") and child.tag in _TAGS:
            node = [child.tag, _link_attrs(child) if child.tag == "a" else {}]
            stack[-1].append(node)
            stack.append(node)
        elif kind.endswith("_close") and child.tag in _TAGS and len(stack) > 1:
            stack.pop()
        # html_inline: the tag is dropped, the text between tags stays (as ingest reads it)


def _link_attrs(token) -> dict:
    href = str(token.attrGet("href") or "")
    return {"href": href} if _SAFE_HREF.match(href) else {}


def text_tree(text: str, headings: set[str] = frozenset()) -> list:
    """Stored text as paragraphs (blank lines apart); a paragraph that is one of
    `headings` (the chunks' section titles) as a heading."""
    nodes = []
    for block in re.split(r"\n[ \t]*\n+", text):
        if not block.strip():
            continue
        tag = "h2" if " ".join(block.split()) in headings else "p"
        nodes.append([tag, {"class": "plain"} if tag == "p" else {}, block.strip("\n")])
    return nodes


def nonspace(text: str) -> str:
    return _SPACE.sub("", text)


def tree_text(nodes: list) -> str:
    """The tree's text, its leaves in order."""
    return "".join(_leaves(nodes))


def _leaves(nodes: list):
    for node in nodes:
        if isinstance(node, str):
            yield node
        else:
            yield from _leaves(node[2:])


def locate(tree: str, text: str, start: int, end: int) -> tuple[int, int] | None:
    """Where the passage text[start:end] lies in `tree`'s non-space characters: at its
    own place when both agree up to it, else found by its first and last ANCHOR
    characters (a document part rendered otherwise than ingest read it); None if not."""
    passage = nonspace(text[start:end])
    if not passage:
        return None
    at = len(nonspace(text[:start]))
    if tree[at:at + len(passage)] == passage:
        return at, at + len(passage)
    if tree.count(passage) == 1:
        found = tree.index(passage)
        return found, found + len(passage)
    head, tail = passage[:ANCHOR], passage[-ANCHOR:]
    first = tree.find(head)
    if first >= 0:
        last = tree.find(tail, first)
        return first, (last + len(tail) if 0 <= last <= first + len(passage) else first + len(passage))
    last = tree.find(tail)
    return (max(last + len(tail) - len(passage), 0), last + len(tail)) if last >= 0 else None


def mark(nodes: list, start: int, end: int) -> list:
    """The tree with the non-space characters start..end wrapped in <mark class="hit">
    (one mark per text leaf it crosses; the first with id "hit", for the page to scroll to)."""
    state = {"seen": 0, "first": True}
    return _mark_all(nodes, start, end, state)


def _mark_all(nodes: list, start: int, end: int, state: dict) -> list:
    out = []
    for node in nodes:
        if isinstance(node, str):
            out += _mark_text(node, start, end, state)
        else:
            out.append([node[0], node[1], *_mark_all(node[2:], start, end, state)])
    return out


def _mark_text(text: str, start: int, end: int, state: dict) -> list:
    positions = [i for i, c in enumerate(text) if not c.isspace()]
    seen = state["seen"]
    state["seen"] += len(positions)
    inside = [p for k, p in enumerate(positions) if start <= seen + k < end]
    if not inside:
        return [text]
    a, b = inside[0], inside[-1] + 1
    attrs = {"class": "hit", "id": "hit"} if state["first"] else {"class": "hit"}
    state["first"] = False
    return [piece for piece in (text[:a], ["mark", attrs, text[a:b]], text[b:]) if piece]
