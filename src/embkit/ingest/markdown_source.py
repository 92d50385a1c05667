"""The markup a markdown renderer consumes before parsing, cleaned from the source line by
line: YAML/TOML front matter (its `title` kept), include directives (snippets `--8<--`,
`{% include %}`, `{!file!}`, `{* file *}`), and the markers of mkdocs admonitions and
tabs (`!!! note "Title"`, `=== "Tab"`), pymdown blocks (`/// note | Title` ... `///`) and
`:::` containers, whose titles and contents stay. Fenced code is left alone but for
includes (snippets are spliced into code fences too)."""

import re
import tomllib

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
# mkdocs admonitions (!!!), collapsible ones (??? / ???+) and content tabs (=== / ===!):
# a type (and classes), then an optional quoted title; the content is indented by 4
# (a tab always has a title, so that a setext underline `===` is not taken for one)
_ADMONITION = re.compile(r"""^(?P<indent>[ \t]*)(?:(?:!!!|\?\?\?\+?)(?:[ \t]+[\w-]+)+[ \t]*(?:"(?P<title>[^"]*)")?"""
                         r"""|===[!+]?[ \t]*"(?P<tab>[^"]*)")[ \t]*$""")
# pymdown blocks: `/// name | title` opens, a bare `///` closes (more slashes nest)
_BLOCK_OPEN = re.compile(r"^[ \t]*/{3,}[ \t]*(?P<name>[\w-]+)[ \t]*(?:\|[ \t]*(?P<title>.*?))?[ \t]*$")
_BLOCK_CLOSE = re.compile(r"^[ \t]*/{3,}[ \t]*$")
# `:::` containers (markdown-it-container, Docusaurus `:::tip[Title]`, MyST `:::{note} Title`)
_CONTAINER = re.compile(r"^[ \t]*:{3,}[ \t]*(?:\{?[\w-]+\}?)?(?:\[(?P<bracket>[^\]]*)\])?[ \t]*(?P<title>.*?)[ \t]*$")
_CONTAINER_OPTION = re.compile(r"^[ \t]*:[\w-]+:")  # MyST directive options (`:class: tip`)
_SNIPPET = re.compile(r"""^[ \t]*;?-{1,}8<-{1,}[ \t]*(?:(["'])[^"']*\1|\S+)?[ \t]*$""")
_SNIPPET_BLOCK = re.compile(r"^[ \t]*-{1,}8<-{1,}[ \t]*$")
# inline includes: Jinja/macros statements, markdown-include `{!file!}`, `{* file hl[3] *}`
# (at most 1,000 characters each: a long line of `{%` never makes the search quadratic)
_INCLUDES = re.compile(r"\{%.{0,1000}?%\}|\{!.{0,1000}?!\}|\{\*.{0,1000}?\*\}")
_FRONT = {"---": re.compile(r"^(?:---|\.\.\.)[ \t]*$"), "+++": re.compile(r"^\+\+\+[ \t]*$")}
_YAML_TITLE = re.compile(r"""^title:[ \t]*(?P<q>["']?)(?P<title>.*?)(?P=q)[ \t]*$""")


def front_matter(lines: list[str]) -> tuple[list[str], str | None]:
    """(lines after any front matter, its `title` or None). YAML between `---` lines,
    TOML between `+++` lines; only a top-level string `title` is read."""
    if not lines or lines[0].rstrip() not in _FRONT:
        return lines, None
    close = _FRONT[lines[0].rstrip()]
    end = next((i for i in range(1, len(lines)) if close.match(lines[i])), None)
    if end is None:  # no closing line: not front matter (`---` is a thematic break)
        return lines, None
    block = lines[1:end]
    if lines[0].rstrip() == "+++":
        try:
            title = tomllib.loads("\n".join(block)).get("title")
        except tomllib.TOMLDecodeError:
            title = None
    else:
        title = next((m.group("title") for m in map(_YAML_TITLE.match, block) if m), None)
        if title and title[0] in "|>&*[{":  # a block scalar, anchor, alias or collection: not read here
            title = None
    return lines[end + 1:], title.strip() or None if isinstance(title, str) else None


def clean_lines(lines: list[str]) -> list[str]:
    """The lines with includes and container markers removed (see the module's doc)."""
    out: list[str] = []
    fence = None  # the open code fence's marker
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if _SNIPPET_BLOCK.match(line) and fence is None:  # a block of snippet paths up to the next `--8<--`
            end = next((j for j in range(i, len(lines)) if _SNIPPET_BLOCK.match(lines[j])), None)
            if end is not None:
                i = end + 1
                continue
        if _SNIPPET.match(line):
            continue
        stripped = _INCLUDES.sub("", line)
        if stripped != line and not stripped.strip():
            continue  # a line that was only an include
        line = stripped
        marker = _FENCE.match(line)
        if fence is not None:
            if marker and marker.group(1)[0] == fence[0] and len(marker.group(1)) >= len(fence) \
                    and not line.strip()[len(marker.group(1)):].strip():
                fence = None
            out.append(line)
            continue
        if marker:
            fence = marker.group(1)
            out.append(line)
            continue
        i = _container(lines, i, line, out)
    return out


def _container(lines: list[str], i: int, line: str, out: list[str]) -> int:
    """Handle one line outside code (lines[i - 1]); returns the index of the next line."""
    admonition = _ADMONITION.match(line)
    if admonition:  # keep the title; the indented body, dedented, is cleaned in turn
        indent = len(admonition.group("indent").expandtabs(4))
        body, i = _indented(lines, i, indent + 4)
        _paragraph(out, admonition.group("title") or admonition.group("tab"))
        out.extend(clean_lines(body))
        out.append("")
        return i
    block = _BLOCK_OPEN.match(line)
    if block:
        while i < len(lines) and lines[i].strip() and lines[i][:1] in " \t":
            i += 1  # the block's YAML options, indented under its header
        _paragraph(out, None if block.group("name") == "html" else block.group("title"))  # html: a tag name
        return i
    if _BLOCK_CLOSE.match(line):
        out.append("")
        return i
    container = _CONTAINER.match(line)
    if container:
        while i < len(lines) and _CONTAINER_OPTION.match(lines[i]):
            i += 1
        _paragraph(out, container.group("bracket") or container.group("title"))
        return i
    out.append(line)
    return i


def _indented(lines: list[str], i: int, width: int) -> tuple[list[str], int]:
    """The lines from `i` indented by at least `width` columns (blank lines included),
    with that indentation removed; and the index of the first line after them."""
    body = []
    while i < len(lines):
        line = lines[i].expandtabs(4)
        if line.strip() and len(line) - len(line.lstrip(" ")) < width:
            break
        body.append(line[width:])
        i += 1
    while body and not body[-1].strip():
        body.pop()
    return body, i


def _paragraph(out: list[str], title: str | None) -> None:
    """A container's title as a paragraph of its own (nothing when it has none)."""
    out.append("")
    if title and title.strip():
        out += [title.strip(), ""]
