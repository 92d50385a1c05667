"""Door parity, the ingest half (issue 20): one folder (markdown with inline HTML and an
admonition, a ~3,000-token markdown document, a pdf, a csv without ids, two pictures)
added through the CLI (`embkit add`), Python (`Collection.add_files`), HTTP (the files
route of a real `embkit serve`) and Ray (`ingest_distributed` on a real loopback Ray,
then `import_shards`) gives the same documents, chunk ids, chunk boundaries, metadata
and vectors (1e-6) in every door; the pictures are skipped with the same one-line
warning everywhere. One Ray node, started once."""

import base64
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import embkit
from embkit.ingest.readers import read_source

from live_server import LiveServer
from pdf_maker import write_pdf
from ray_cluster import scifact_abstracts

pytestmark = pytest.mark.slow  # a Ray node and a server: about half a minute

SKIPPED = "skipped 2 files: 2 images (no image space; add one with --image-model); --verbose lists them"

GUIDE = """---
title: Brewing guide
---
# Brewing

Brew <font color="red">green</font> tea with <a href="https://example.org/tea" target="_blank">care</a>,
never with boiling water.

!!! note "Water"
    Let the kettle rest for two minutes before you pour.

## Storage

Keep the leaves in a <span class="tin">dark tin</span>, away from spices.
"""


def make_folder(root: Path) -> Path:
    """The folder every door reads."""
    from PIL import Image

    docs = root / "docs"
    (docs / "shots").mkdir(parents=True)
    (docs / "guide.md").write_text(GUIDE, encoding="utf-8")
    sections = [f"## {row['title'][:60]}\n\n{row['text']}\n" for row in scifact_abstracts(12, chars=1400)]
    (docs / "long.md").write_text("# Abstracts\n\n" + "\n".join(sections), encoding="utf-8")
    write_pdf(docs / "paper.pdf", ["Green tea holds catechins. " * 40, "Black tea is fully oxidised. " * 40])
    (docs / "table.csv").write_text("text,topic\nOolong is half oxidised.,tea\nMatcha is ground green tea.,tea\n"
                                    "Rooibos is not tea at all.,herbal\n", encoding="utf-8")
    Image.new("RGB", (24, 16), "green").save(docs / "shots" / "cup.png")
    Image.new("RGB", (24, 16), "brown").save(docs / "shots" / "pot.png")
    (docs / ".drafts").mkdir()  # hidden: no door reads it (HTTP once did)
    (docs / ".drafts" / "wip.md").write_text("# Draft\n\nNot ready.\n", encoding="utf-8")
    (docs / ".env.md").write_text("SECRET=1\n", encoding="utf-8")
    return docs


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return make_folder(tmp_path_factory.mktemp("parity"))


def stored(path: Path) -> dict:
    """id -> (text, metadata, vector) of every record of a collection."""
    with embkit.open(path) as col:
        table = col.table()
    return {i: (t, m, v) for i, t, m, v in zip(table.ids, table.texts, table.metadatas, table.vectors)}


def by_cli(folder: Path, work: Path) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    run = [sys.executable, "-m", "embkit.cli"]
    assert subprocess.run([*run, "init", str(work / "cli")], env=env, capture_output=True).returncode == 0
    done = subprocess.run([*run, "add", str(work / "cli"), str(folder)], env=env, capture_output=True, text=True)
    assert done.returncode == 3, done.stderr  # partial: the pictures were skipped
    assert [line for line in done.stderr.splitlines() if line.startswith("warning:")] == [f"warning: {SKIPPED}"]
    return stored(work / "cli")


def by_python(folder: Path, work: Path) -> dict:
    with embkit.create(work / "python") as col:
        done = col.add_files([folder])
    assert done.summary == SKIPPED
    assert sorted(s.path for s in done.skipped) == [str(folder / "shots" / n) for n in ("cup.png", "pot.png")]
    return stored(work / "python")


def by_http(folder: Path, work: Path) -> dict:
    embkit.create(work / "http").close()
    files = [{"path": p.relative_to(folder).as_posix(), "data": base64.b64encode(p.read_bytes()).decode()}
             for p in sorted(folder.rglob("*")) if p.is_file()]
    server = LiveServer([str(work / "http"), "--no-auth"], work / "server.log", env={"HF_HUB_OFFLINE": "1"})
    try:
        with server.client() as client:
            for bad, message in ((dict(path="../guide.md"), "files[0].path: expected a relative path"),
                                 (dict(data="not base64!"), "files[0].data: not valid base64")):
                refused = client.post("/collections/http/files", json={"folder": str(folder),
                                                                       "files": [{**files[0], **bad}]})
                assert refused.status_code == 422 and refused.json()["error"]["message"].startswith(message)
            response = client.post("/collections/http/files", json={"folder": str(folder), "files": files})
    finally:
        assert server.stop() == 0
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["warnings"] == [SKIPPED]
    assert sorted(s["file"] for s in body["skipped"]) == [str(folder / "shots" / n) for n in ("cup.png", "pot.png")]
    return stored(work / "http")  # the refused requests wrote nothing: the same records as the CLI's


def by_ray(folder: Path, work: Path, ray_tmp: Path) -> dict:
    from embkit.distributed import ingest_distributed
    from embkit.ingest.bulk import import_shards

    from ray_cluster import start_cluster

    cluster = start_cluster(ray_tmp, nodes=1)  # a short path: Ray's socket paths have a length limit
    try:
        summary = ingest_distributed([str(folder)], work / "vectors", "minilm", address=cluster.address, workers=1)
    finally:
        cluster.shutdown()
    assert not summary["failed"] and summary["processed"] == 4  # guide, long, paper, table
    assert summary["warning"] == SKIPPED
    with embkit.create(work / "ray-col") as col:
        import_shards(col, work / "vectors")
    return stored(work / "ray-col")


def test_every_door_stores_the_same_records(folder, tmp_path, tmp_path_factory, minilm):
    cli = by_cli(folder, tmp_path)
    d = str(folder)
    # what was stored: the csv rows named <file>:<row>, the long page and the pdf as chunks
    documents = {m["parent"] for _, m, _ in cli.values()}
    assert documents == {f"{d}/guide.md", f"{d}/long.md", f"{d}/paper.pdf",
                         f"{d}/table.csv:0", f"{d}/table.csv:1", f"{d}/table.csv:2"}
    long = sorted((m["chunk"], m["start"], m["end"], t) for t, m, _ in cli.values() if m["parent"] == f"{d}/long.md")
    visible = read_source(f"{d}/long.md").texts[0]
    assert len(long) >= 10 and all(visible[start:end] == text for _, start, end, text in long)
    assert {m.get("page") for t, m, _ in cli.values() if m["parent"] == f"{d}/paper.pdf"} == {1, 2}
    guide = next(t for t, m, _ in cli.values() if m["parent"] == f"{d}/guide.md")
    assert "font" not in guide and "href" not in guide and "!!!" not in guide and "care" in guide
    assert cli[f"{d}/table.csv:2"][1] == {"topic": "herbal", "source": f"{d}/table.csv", "parent": f"{d}/table.csv:2"}
    for door, records in (("python", by_python(folder, tmp_path)), ("http", by_http(folder, tmp_path)),
                          ("ray", by_ray(folder, tmp_path, tmp_path_factory.mktemp("ray")))):
        assert sorted(records) == sorted(cli), door
        for record_id, (text, metadata, vector) in cli.items():
            assert records[record_id][0] == text, (door, record_id)
            assert records[record_id][1] == metadata, (door, record_id)
            assert np.abs(records[record_id][2] - vector).max() <= 1e-6, (door, record_id)
