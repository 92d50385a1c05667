"""pdf: text per page with page offsets; encrypted and corrupt files are unreadable."""

import pytest
from pypdf import PdfWriter

from embkit.ingest import UnreadableFile, chunk_records, read_source
from embkit.ingest.chunk import page_at

PAGES = [f"Page {n} opens here. " + " ".join(f"Sentence {i} on page {n} talks about {topic}." for i in range(30))
         for n, topic in ((1, "glaciers"), (2, "volcanic ash"), (3, "tidal pools"))]


def test_three_pages_keep_their_numbers(tmp_path, make_pdf, tokenizer):
    path = make_pdf(tmp_path / "report.pdf", PAGES)
    batch = read_source(str(path))
    (text,), (pages,), (meta,) = batch.texts, batch.pages, batch.metadatas
    assert batch.ids == [str(path)] and meta == {"source": str(path), "page_count": 3}
    assert [p for _, p in pages] == [1, 2, 3] and pages[0][0] == 0
    assert text[pages[1][0]:].startswith("Page 2 opens here.") and text[pages[2][0]:].startswith("Page 3 opens")
    assert text[pages[1][0] - 2:pages[1][0]] == "\n\n"  # pages joined by a paragraph break

    chunks = chunk_records(batch.ids[0], text, meta, tokenizer, pages=pages, chunk_tokens=64, overlap=8)
    assert len(chunks) > 6
    for c in chunks:
        assert text[c.metadata["start"]:c.metadata["end"]] == c.text
        assert c.metadata["page"] == page_at(pages, c.metadata["start"])
        assert c.metadata["source"] == str(path) and c.metadata["parent"] == str(path)
    page2 = [c for c in chunks if "volcanic ash" in c.text and "glaciers" not in c.text]
    assert page2 and all(c.metadata["page"] == 2 for c in page2)
    assert {c.metadata["page"] for c in chunks} == {1, 2, 3}


def test_encrypted_pdf_needs_a_password(tmp_path, make_pdf):
    plain = make_pdf(tmp_path / "plain.pdf", PAGES[:1])
    for user, name in (("s3cret", "locked.pdf"), ("", "open.pdf")):
        writer = PdfWriter(clone_from=plain)
        writer.encrypt(user_password=user, owner_password="owner", algorithm="RC4-128")
        writer.write(tmp_path / name)
    with pytest.raises(UnreadableFile, match=r"locked\.pdf: encrypted pdf \(needs a password\)"):
        read_source(str(tmp_path / "locked.pdf"))
    # an empty user password (owner-only protection) opens like any pdf
    assert read_source(str(tmp_path / "open.pdf")).texts[0].startswith("Page 1 opens here.")


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_pdf_is_unreadable_and_quiet(tmp_path, make_pdf, capfd, keep):
    data = make_pdf(tmp_path / "whole.pdf", PAGES).read_bytes()
    (tmp_path / "cut.pdf").write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(UnreadableFile, match=r"cut\.pdf: not a readable pdf"):
        read_source(str(tmp_path / "cut.pdf"))
    assert capfd.readouterr().err == ""  # pypdf's repair warnings do not leak to stderr


def test_garbage_and_textless_pdfs(tmp_path, make_pdf):
    (tmp_path / "junk.pdf").write_bytes(b"this is not a pdf at all")
    with pytest.raises(UnreadableFile, match=r"junk\.pdf: not a readable pdf"):
        read_source(str(tmp_path / "junk.pdf"))
    make_pdf(tmp_path / "blank.pdf", [""])
    with pytest.raises(UnreadableFile, match=r"blank\.pdf: no text found"):
        read_source(str(tmp_path / "blank.pdf"))
