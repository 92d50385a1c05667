"""A real folder tree for the include/exclude and skip tests (ingest and CLI): markdown
at three depths, a changelog file and folder, text, two screenshots, a stylesheet, an
svg and a pdf cut short."""

from pathlib import Path

from pdf_maker import write_pdf

# what a text collection skips in the tree (with --exclude 'changelog*' or without)
SUMMARY = ("skipped 5 files: 2 images (no image space; add one with --image-model), 2 unknown formats (.css, .svg), "
           "1 unreadable file")

TEXTS = {"index.md": "Welcome to the tea garden guide.",
         "changelog.md": "Version two fixed the kettle.",
         "guide/setup.md": "Set the water to eighty degrees.",
         "guide/deep/options.md": "Steep green leaves for two minutes.",
         "guide/notes.txt": "Oolong keeps well in a tin.",
         "changelog/old.md": "Version one had no kettle.",
         "assets/site.css": "body { color: green }",
         "assets/logo.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>"}


def make_tree(root: Path) -> Path:
    """Writes the tree under `root` and returns it."""
    from PIL import Image

    for name, text in TEXTS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "shots").mkdir()
    Image.new("RGB", (32, 24), "red").save(root / "shots" / "kettle.png")
    Image.new("RGB", (32, 24), "blue").save(root / "shots" / "leaves.jpg")
    pdf = write_pdf(root / "guide" / "whole.pdf", ["A whole page about tea."])
    (root / "guide" / "broken.pdf").write_bytes(pdf.read_bytes()[:400])
    pdf.unlink()
    return root
