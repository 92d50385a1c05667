"""A whole document rebuilt from its stored chunks, for reading it: the chunks' texts
placed at their start offsets (consecutive chunks overlap), the document's metadata
without the keys that belong to one chunk."""

from dataclasses import dataclass, field

CHUNK_KEYS = ("parent", "chunk", "start", "end", "page", "section")


@dataclass
class WholeDocument:
    id: str
    text: str
    metadata: dict
    chunks: list[dict]  # {"id", "start", "end"} in order
    hit: dict | None = None  # the chunk asked for: {"id", "start", "end", "section"?}
    sections: set[str] = field(default_factory=set)  # heading titles named by the chunks' section paths


def whole_document(col, doc_id: str) -> WholeDocument | None:
    """The document `doc_id` names, or the one the chunk `doc_id` belongs to (then that
    chunk is its `hit`); None if no record has that id."""
    found = col.get([doc_id])
    if not found:
        return None
    one = found[0]
    hit = one if len(found) == 1 and one.id == doc_id and _chunked(one) and one.metadata["parent"] != doc_id else None
    if hit is not None:
        found = col.get([hit.metadata["parent"]]) or found
    spans = [(r.metadata["start"], r.metadata["end"]) if _chunked(r) else (0, len(r.text or "")) for r in found]
    records = sorted(zip(spans, found), key=lambda pair: pair[0][0])
    chunks = [{"id": r.id, "start": start, "end": end} for (start, end), r in records]
    first = records[0][1]
    document = WholeDocument(first.metadata["parent"] if _chunked(first) else first.id,
                             rebuild([(start, r.text or "") for (start, _), r in records]),
                             {k: v for k, v in first.metadata.items() if k not in CHUNK_KEYS}, chunks)
    document.sections = {title.strip() for _, r in records if isinstance(r.metadata.get("section"), str)
                         for title in r.metadata["section"].split("›")}
    if hit is not None:
        place = next((c for c in chunks if c["id"] == hit.id), None)
        section = {"section": hit.metadata["section"]} if "section" in hit.metadata else {}
        document.hit = {**place, **section} if place else None
    return document


MAX_GAP = 8  # line breaks rebuilt between two chunks at most (a cut before a heading leaves 1-3)


def _chunked(record) -> bool:
    """A chunk whose offsets agree with its text; offsets a client wrote that do not
    (say start 10**11) make the record a whole one, never a huge rebuilt text."""
    meta, text = record.metadata, record.text or ""
    start, end = meta.get("start"), meta.get("end")
    return ("parent" in meta and type(start) is int and type(end) is int
            and 0 <= start <= end and end - start == len(text))


def rebuild(pieces: list[tuple[int, str]]) -> str:
    """Texts placed at their offsets, in order of offset. The whitespace between two
    chunks that do not overlap is not stored: chunks overlap unless cut before a heading,
    which a paragraph break precedes, so two or more characters are rebuilt as line
    breaks, one (a cut with no overlap asked for) as a space."""
    out: list[str] = []
    size = 0
    for start, text in sorted(pieces, key=lambda p: p[0]):
        if start > size:
            out.append(" " if start - size == 1 else "\n" * min(start - size, MAX_GAP))
            size = start
        if start + len(text) > size:
            out.append(text[size - start:])
            size = start + len(text)
    return "".join(out)
