"""A document's outline: where each section starts in its visible text and the path of
headings above it ("Guide › Setup › Options"), shared by the markdown and HTML readers
and used by the chunker to cut at headings and label chunks."""

from bisect import bisect_right

SEPARATOR = " › "

Heading = tuple[int, int, str]  # (char offset of the heading in the text, level 1-6, heading text)
Section = tuple[int, str]  # (char offset where the section starts, its heading path)


def section_paths(headings: list[Heading]) -> list[Section]:
    """Each heading's path: the nearest enclosing heading of every lower level, then it.
    A skipped level (h1 then h3) simply nests; a blank heading is no section."""
    stack: list[tuple[int, str]] = []
    sections = []
    for offset, level, title in headings:
        title = " ".join(title.split())
        if not title:
            continue
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        sections.append((offset, SEPARATOR.join(t for _, t in stack)))
    return sections


class SectionIndex:
    """The heading path in force at any offset: section starts laid out once, then each
    lookup a bisect (a document's chunks are looked up one by one)."""

    def __init__(self, sections: list[Section] | None):
        self._starts = [start for start, _ in sections or ()]
        self._paths = [path for _, path in sections or ()]

    def at(self, offset: int) -> str | None:
        """The heading path at character `offset` (None before the first heading)."""
        i = bisect_right(self._starts, offset) - 1
        return self._paths[i] if i >= 0 else None


def section_at(sections: list[Section], offset: int) -> str | None:
    """The heading path in force at character `offset` (None before the first heading);
    for many offsets of one document, build a SectionIndex once."""
    return SectionIndex(sections).at(offset)
