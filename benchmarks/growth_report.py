"""The growth benchmark's outputs: OUT.json (everything measured), OUT.md (tables, the
ratios to Chroma and the issue's targets) and OUT.png (log-log cost against size)."""

import json
from pathlib import Path

EMBKIT_MODES = ("dense", "keyword", "hybrid", "filtered")
CHROMA_MODES = ("dense", "contains", "filtered")


def write(result: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    plot(result, out.with_suffix(".png"))


def _ok(run: dict) -> bool:
    return "error" not in run["build"] and "error" not in run.get("serve", {"error": 1})


def _runs(result: dict, side: str, model: str = "static") -> dict[int, dict]:
    return {r["n"]: r for r in result["runs"] if r["side"] == side and r["model"] == model and _ok(r)}


def _disk(run: dict) -> int:
    """The collection's bytes on disk once its build process had exited (so all it wrote is there)."""
    return run.get("serve", {}).get("disk_bytes_at_open", run["build"]["disk_bytes"])


def _raw_per_doc(result: dict, n: int) -> float:
    payload = result["payload"][str(n)]
    return 4 * result["dim"] + payload["text_per_doc"] + payload["metadata_per_doc"]


def _f(x, digits: int = 1) -> str:
    if x is None:
        return "n/a"
    return f"{x:,.{digits}f}"


def _compact(serve: dict) -> str:
    c = serve.get("compact", {})
    if not c.get("available"):
        return "n/a"
    return f"{c['s']:.2f} (CLI start {c['startup_s']:.2f})" if c.get("ok") else "failed"


def _index(run: dict) -> str:
    if run["side"] == "chroma":
        return "hnsw (Chroma's defaults)"
    return run["serve"].get("index", {}).get("spec", "?")


def _per_doc_split(run: dict, per_doc: float) -> str:
    """embkit's bytes per document, and how much of it its vector index folder takes."""
    split = run["build"].get("disk_split") or {}
    if "index" not in split:
        return _f(per_doc, 0)
    return f"{_f(per_doc, 0)} (index {_f(split['index'] / run['n'], 0)})"


def footprint_table(result: dict) -> list[str]:
    rows = ["| documents | side | model | add docs/s | searchable docs/s | indexed docs/s | with embedding docs/s "
            "| disk B/doc (vector index) | ÷ raw (1,536 + text + metadata) | build peak RSS MiB | serve RSS MiB "
            "| cold open → first result ms | compact s | vector index |",
            "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in result["runs"]:
        b, s = r["build"], r.get("serve", {})
        if "error" in b or "error" in s or not s:
            why = b.get("error") or s.get("error") or "no serve phase"
            rows.append(f"| {r['n']:,} | {r['side']} | {r['model']} | {why.splitlines()[0][:80]} ||||||||||||")
            continue
        per_doc = _disk(r) / r["n"]
        raw = _raw_per_doc(result, r["n"])
        rows.append(f"| {r['n']:,} | {r['side']} | {r['model']} | {_f(b['docs_per_s'], 0)} | "
                    f"{_f(b['searchable_docs_per_s'], 0)} | {_f(b.get('indexed_docs_per_s'), 0)} | "
                    f"{_f(b.get('with_embedding_docs_per_s'), 0)} | "
                    f"{_per_doc_split(r, per_doc)} | {per_doc / raw:.2f}× | "
                    f"{_f(b['peak_rss_mib'], 0)} | {_f(s['rss_after_search_mib'], 0)} | "
                    f"{_f(s['cold_first_result_s'] * 1000, 1)} | {_compact(s)} | {_index(r)} |")
    return rows


def delete_table(result: dict) -> list[str]:
    """A tenth of the documents deleted, then `embkit compact` (Chroma has none)."""
    rows = ["| documents | side | model | delete 10% s | disk MiB | after the delete | after compact | compact s |",
            "|---:|---|---|---:|---:|---:|---:|---:|"]
    for r in result["runs"]:
        if not _ok(r) or "delete_tenth_s" not in r["serve"]:
            continue
        s, c = r["serve"], r["serve"].get("compact", {})
        after = c.get("bytes_after") if c.get("ok") else None
        rows.append(f"| {r['n']:,} | {r['side']} | {r['model']} | {_f(s['delete_tenth_s'], 2)} | "
                    f"{_f(_disk(r) / 2**20)} | {_f(s['disk_bytes_after_delete'] / 2**20)} | "
                    f"{'n/a' if after is None else _f(after / 2**20)} | {_compact(s)} |")
    return rows


def latency_table(result: dict, key: str, title: str) -> list[str]:
    """p50 / p99 (ms) per mode; Chroma's `contains` sits in the keyword column, marked *."""
    recall = key == "search"  # the search table also says how exact dense and filtered were
    head = " | recall@10 dense / filtered" if recall else ""
    rows = [f"| documents | side | model | {' | '.join(EMBKIT_MODES)}{head} |",
            "|---:|---|---|" + "---:|" * (5 if recall else 4)]
    for r in result["runs"]:
        if not _ok(r):
            continue
        cells = []
        for mode in EMBKIT_MODES:
            got = r["serve"][key].get("contains" if r["side"] == "chroma" and mode == "keyword" else mode)
            star = "*" if r["side"] == "chroma" and mode == "keyword" else ""
            cells.append("n/a" if got is None else f"{_f(got['p50_ms'], 2)} / {_f(got['p99_ms'], 2)}{star}")
        if recall:
            got = r["serve"].get("recall_at_10", {})
            cells.append(f"{_f(got.get('dense'), 3)} / {_f(got.get('filtered'), 3)}")
        rows.append(f"| {r['n']:,} | {r['side']} | {r['model']} | {' | '.join(cells)} |")
    return [f"**{title}** (p50 / p99 ms)", "", *rows]


def chroma_table(result: dict) -> list[str]:
    """embkit ÷ Chroma at each size both finished (static-model vectors)."""
    ours, theirs = _runs(result, "embkit"), _runs(result, "chroma")
    rows = ["| documents | searchable docs/s | indexed docs/s | dense QPS | filtered QPS | dense p50 | disk "
            "| serve RSS | cold open → first |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n in sorted(set(ours) & set(theirs)):
        a, c = ours[n], theirs[n]
        rows.append(f"| {n:,} | {_ratio(a['build']['searchable_docs_per_s'], c['build']['searchable_docs_per_s'])} | "
                    f"{_ratio(a['build'].get('indexed_docs_per_s'), c['build'].get('indexed_docs_per_s'))} | "
                    f"{_ratio(a['serve']['search']['dense']['qps'], c['serve']['search']['dense']['qps'])} | "
                    f"{_ratio(a['serve']['search']['filtered']['qps'], c['serve']['search']['filtered']['qps'])} | "
                    f"{_ratio(a['serve']['search']['dense']['p50_ms'], c['serve']['search']['dense']['p50_ms'])} | "
                    f"{_ratio(_disk(a), _disk(c))} | "
                    f"{_ratio(a['serve']['rss_after_search_mib'], c['serve']['rss_after_search_mib'])} | "
                    f"{_ratio(a['serve']['cold_first_result_s'], c['serve']['cold_first_result_s'])} |")
    return rows


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if a and b else "n/a"


def targets(result: dict) -> list[str]:
    """The issue's targets, checked on what this run measured (largest size against the smallest ≥ 10k)."""
    ours = _runs(result, "embkit")
    lines = []
    small = min((n for n in ours if n >= 10_000), default=min(ours, default=None))
    big = max(ours, default=None)
    if small is not None and big is not None and big > small:
        a, b = ours[small]["serve"], ours[big]["serve"]
        for mode in ("keyword", "hybrid"):
            x, y = a["add_then_search"][mode]["p50_ms"], b["add_then_search"][mode]["p50_ms"]
            lines.append(_target(f"add one document then {mode} search, {big:,} ÷ {small:,}", y / x, "≤", 3))
        for mode in EMBKIT_MODES:
            x, y = a["search"][mode]["p50_ms"], b["search"][mode]["p50_ms"]
            lines.append(_target(f"search p50 {mode}, {big:,} ÷ {small:,}", y / x, "≤", 3))
    for n, r in sorted(ours.items()):
        lines.append(_target(f"disk per 384-d document ÷ (1,536 + text + metadata) at {n:,}",
                             _disk(r) / n / _raw_per_doc(result, n), "≤", 1.3))
    theirs = _runs(result, "chroma")
    at = 100_000 if 100_000 in ours and 100_000 in theirs else max(set(ours) & set(theirs), default=None)
    if at is not None:
        a, c = ours[at], theirs[at]
        for kind in ("searchable", "indexed"):
            key = f"{kind}_docs_per_s"
            lines.append(_target(f"ingest until {kind} ÷ Chroma at {at:,}", a["build"][key] / c["build"][key], "≥", 2))
        for mode in ("dense", "filtered"):
            lines.append(_target(f"{mode} QPS ÷ Chroma at {at:,}",
                                 a["serve"]["search"][mode]["qps"] / c["serve"]["search"][mode]["qps"], "≥", 2))
        lines.append(_target(f"disk ÷ Chroma at {at:,}", _disk(a) / _disk(c), "≤", 1))
    return lines


def _target(what: str, value: float, op: str, limit: float) -> str:
    met = value <= limit if op == "≤" else value >= limit
    return f"| {what} | {value:.2f} | {op} {limit} | {'met' if met else '**not met**'} |"


def markdown(result: dict) -> str:
    m = result["machine"]
    parts = [
        "# Growth benchmark", "",
        f"Command (in /work/main; the two OPENBLAS variables unset for every side alike, the script sets "
        f"none): `{result['command']}`  ",
        f"Machine: {m['cpu_count']} CPUs, Python {m['python']}, embkit {m['embkit']}, chromadb {m['chromadb']}, "
        f"faiss-cpu {m['faiss-cpu']}; BLAS env {m['blas_env'] or 'none set'}.  ",
        "Every side stores the same precomputed vectors (add, searchable and indexed docs/s: vectors given; "
        "*with embedding*: searchable plus the model's own rate, timed on 2,000 of the texts in the build "
        "process). "
        "Dense and filtered queries are given as vectors on both sides; embkit's hybrid embeds the query text.", "",
        "How: *add* = the add calls alone; *searchable* = add plus a first dense and keyword query (embkit "
        "answers exactly while a big HNSW graph builds in a background thread, as in bench_ann.py); *indexed* "
        "= until that graph is built and saved (Chroma builds its graph during add: its three agree). "
        "*Disk*: allocated bytes of the folder once the build process had exited. *Build peak RSS*: VmHWM of "
        "the build process; *serve RSS*: VmRSS after the query loops. *Cold open → first result*: open plus "
        "the first dense query in a fresh process, imports excluded (`import_s` in the JSON), OS page cache "
        "warm. p50/p99 over the first `--queries` SciFact queries after 5 warm-up calls, one thread; QPS = "
        "1000 / p50 ms. *Add one, then search*: a new document (text, vector, metadata in the filtered "
        "bucket) then one query, `--rounds` times per mode. Filtered = `where {\"bucket\": 42}` (1%).", "",
        "## Ingest, disk, memory, cold open", "", *footprint_table(result), "",
        "## Search", "", *latency_table(result, "search", "Search latency per mode"), "",
        *latency_table(result, "add_then_search", "Add one document, then search"), "",
        "\\* Chroma has no ranked keyword search locally: its column shows `where_document $contains` "
        "(unranked), never used in a ratio; hybrid is n/a.", "",
        "## Delete a tenth, then compact", "", *delete_table(result), "",
        "## embkit ÷ Chroma (static-model vectors)", "", *chroma_table(result), "",
        "## Targets (issue 21)", "", "| target | measured | limit | |", "|---|---:|---|---|", *targets(result), "",
        "Other processes' CPU-seconds per phase (shared machine): "
        + ", ".join(f"{r['side']} {r['model']} {r['n']:,}: {r['build'].get('others_cpu_s', '?')}/"
                    f"{r.get('serve', {}).get('others_cpu_s', '?')}" for r in result["runs"]), "",
    ]
    return "\n".join(parts)


def _series(runs: dict[int, dict], side: str) -> tuple[dict, dict]:
    """(left, right) panels' lines for one side: {label: (sizes, values)}."""
    sizes = sorted(runs)
    left, right = {}, {}

    def line(panel: dict, label: str, value) -> None:
        panel[label] = (sizes, [value(runs[n], n) for n in sizes])

    for mode in EMBKIT_MODES if side == "embkit" else ("dense", "filtered"):
        line(left, f"search p50 {mode}", lambda r, n, m=mode: r["serve"]["search"][m]["p50_ms"])
    for mode in ("keyword", "hybrid") if side == "embkit" else ("dense",):
        line(left, f"add one + {mode} p50", lambda r, n, m=mode: r["serve"]["add_then_search"][m]["p50_ms"])
    line(left, "cold open → first result", lambda r, n: r["serve"]["cold_first_result_s"] * 1000)
    line(right, "disk bytes/doc", lambda r, n: _disk(r) / n)
    line(right, "serve RSS bytes/doc", lambda r, n: r["serve"]["rss_after_search_mib"] * 2**20 / n)
    line(right, "ingest until indexed µs/doc", lambda r, n: 1e6 / r["build"]["indexed_docs_per_s"])
    return left, right


def plot(result: dict, path: Path) -> None:
    """Log-log: per-query and per-document costs against collection size; a colour per
    measure, embkit solid, Chroma dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 5.5))
    colours: list[dict[str, str]] = [{}, {}]  # per panel: a measure keeps its colour on both sides
    for side, style in (("embkit", "-"), ("chroma", "--")):
        runs = _runs(result, side)
        if not runs:
            continue
        for ax, lines, known in zip(axes, _series(runs, side), colours):
            for label, (sizes, values) in lines.items():
                colour = known.setdefault(label, f"C{len(known) % 10}")
                ax.plot(sizes, values, style, marker="o", color=colour, label=f"{side}: {label}")
    axes[0].set(xscale="log", yscale="log", xlabel="documents", ylabel="ms", title="Time per operation")
    axes[1].set(xscale="log", yscale="log", xlabel="documents", ylabel="bytes or µs per document",
                title="Cost per document")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
