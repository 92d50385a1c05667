"""A small collection of pages stored as chunks (`ID#i`, metadata `parent` and
`chunk`, as `embkit add` stores a long file), for the `unit` tests of the analysis
verbs (a plain module, like corpora.py).

"setup-copy" is a copy of "setup" added later; "faq" holds, in its middle, a chunk
that is also "garden"'s second chunk; "weather" is a one-chunk document stored the
old way (no `parent`)."""

import embkit

PAGES = {
    "setup": ["Install the package with pip and create a virtual environment first.",
              "Set the API key in the configuration file before starting the server.",
              "Run the test suite to check that everything works after installation."],
    "cooking": ["Knead the dough for ten minutes and let the bread rise for an hour.",
                "Simmer the tomato soup slowly with garlic, onions and fresh basil."],
    "garden": ["Water the tomato plants early in the morning during hot summer days.",
               "Prune the rose bushes in late winter before new shoots appear."],
    "weather": ["A cold front brings heavy rain and strong winds to the coast tonight."],
    "setup-copy": None,  # the same chunks as "setup"
    "faq": ["Payments by credit card are refunded within five business days.",
            "Prune the rose bushes in late winter before new shoots appear.",
            "Our support team answers emails from Monday to Friday."],
}
PAGES["setup-copy"] = list(PAGES["setup"])
DOCUMENTS = list(PAGES)  # in insertion order


def chunk_ids(page: str) -> list[str]:
    return [page] if len(PAGES[page]) == 1 else [f"{page}#{i}" for i in range(len(PAGES[page]))]


def build(folder, encoder=None) -> None:
    """Create the collection at `folder` (MiniLM; `encoder` saves loading it again).
    The chunks' MiniLM vectors are given with them, so the chunks are stored exactly
    as listed (the library's own chunker would cut these texts elsewhere)."""
    with embkit.create(folder, model="minilm") as col:
        if encoder is not None:
            col._encoder = encoder
        for page, chunks in PAGES.items():
            metadatas = [{"title": page.title()}] if len(chunks) == 1 else \
                [{"parent": page, "chunk": i, "title": page.title()} for i in range(len(chunks))]
            col.add(chunks, ids=chunk_ids(page), metadatas=metadatas, vectors=col.embed(chunks), model="minilm")
        col.merge_metadata({"weather": {"parent": None}})  # as a collection written before every record had one
