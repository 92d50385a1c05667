"""The short text an MCP tool gives beside its structured result: what an agent (or a
person reading its transcript) takes in at a glance, as the CLI prints without --json."""

import json

SNIPPET = 160  # characters of a hit's or record's text shown


def snippet(text: str | None) -> str:
    line = " ".join((text or "").split())
    return line[: SNIPPET - 3] + "..." if len(line) > SNIPPET else line


def render_hits(payload: dict) -> str:
    """`1. 0.8123  id  {metadata}` over the hit's text, one hit after another."""
    lines = [f"warning: {w}" for w in payload.get("warnings", [])]
    if not payload["hits"]:
        lines.append("no results")
    for rank, hit in enumerate(payload["hits"], start=1):
        meta = f"  {json.dumps(hit['metadata'], ensure_ascii=False)}" if hit["metadata"] else ""
        lines.append(f"{rank}. {hit['score']:.4f}  {hit['id']}{meta}\n   {snippet(hit['text'])}")
    return "\n".join(lines)


def render_context(payload: dict) -> str:
    """The numbered, cited passages, ready for a prompt (as `embkit context` prints them)."""
    notes = "".join(f"warning: {w}\n" for w in payload.get("warnings", []))
    return notes + (payload["text"] if payload["passages"] else "no passages found")


def render_records(payload: dict) -> str:
    """`id  {metadata}` over the record's text, one record after another."""
    lines = []
    for record in payload["documents"]:
        meta = f"  {json.dumps(record['metadata'], ensure_ascii=False)}" if record["metadata"] else ""
        lines.append(f"{record['id']}{meta}\n   {snippet(record['text'])}")
    return "\n".join(lines)


def render_added(payload: dict, upsert: bool, count: int) -> str:
    notes = "".join(f"warning: {w}\n" for w in payload.get("warnings", []))
    ids = ", ".join(payload["ids"][:20]) + (" ..." if len(payload["ids"]) > 20 else "")
    return (
        f"{notes}{'upserted' if upsert else 'added'} {len(payload['ids'])} document(s): {ids}; "
        f"the collection holds {count} records"
    )


def render_deleted(payload: dict) -> str:
    split = f" ({payload['deleted']} chunks)" if payload["deleted"] != payload["documents"] else ""
    return f"deleted {payload['documents']} document(s){split}; the collection holds {payload['count']} records"
