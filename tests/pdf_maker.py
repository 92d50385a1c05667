"""Real pdf files for tests (fpdf2), shared by the ingest and CLI tests."""

from pathlib import Path


def write_pdf(path: Path, pages: list[str]) -> Path:
    """A real pdf with one page per string (fpdf2's core font: latin-1 text)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 5, text)
    pdf.output(str(path))
    return path
