"""Clustering and near-duplicate search on 100,000 real vectors: time and peak memory,
side by side with the reference way to do each (scikit-learn k-means, all-pairs cosine).

    .venv/bin/python benchmarks/bench_analysis.py [--steps kmeans,auto,hdbscan,dedupe,map]

The vectors: all-MiniLM-L6-v2 embeddings of the 89,229 unique sentences of ../shared/data
(SciFact, Cranfield, BANKING77, STS-B; cached by bench_ann.py) plus 10,771 near-duplicates
planted by small edits (a dropped character, a changed case, an extra word), embedded with
the same model: 100,000 vectors of 384 dimensions, in a collection built once under
results/cache/. Every step runs in a fresh process, so each peak RSS is its own.
Writes results/bench_analysis.json and prints a table.
"""

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CACHE = HERE / "results" / "cache"
COLLECTION = CACHE / "analysis-100k"
N_TOTAL = 100_000
K = 50
THRESHOLD = 0.95
STEPS = ("kmeans", "auto", "hdbscan", "dedupe", "map")


# ---- the data ------------------------------------------------------------------------------

def edit(text: str, rng: random.Random) -> str:
    """A near-duplicate: one small change a copy-paste or a typo would make."""
    kind = rng.randrange(3)
    if kind == 0 and len(text) > 20:
        i = rng.randrange(1, len(text) - 1)
        return text[:i] + text[i + 1:]
    if kind == 1:
        return text.upper() if rng.random() < 0.2 else text[0].swapcase() + text[1:]
    return text + rng.choice([" indeed", " (copy)", " again", "."])


def build_collection(data: Path) -> None:
    """The 100k collection (vectors precomputed, texts kept), built once."""
    import embkit
    sys.path.insert(0, str(HERE))
    from bench_ann import load_minilm, sentences

    texts = sentences(data)
    load_minilm(data, len(texts) - 1, 1, 0)  # embeds and caches the sentences if not done yet
    x = np.load(next(CACHE.glob(f"minilm-{len(texts)}-*.npy")))  # in sentence order
    rng = random.Random(0)
    picked = rng.sample(range(len(texts)), N_TOTAL - len(texts))
    copies = [edit(texts[i], rng) for i in picked]
    print(f"embedding {len(copies)} planted near-duplicates", file=sys.stderr)
    copy_vectors = embkit.load_encoder("minilm").encode(copies, batch_size=64)
    col = embkit.create(COLLECTION, model=None, dim=384)
    ids = [f"s{i}" for i in range(len(texts))] + [f"c{i}-of-s{j}" for i, j in enumerate(picked)]
    all_texts, vectors = texts + copies, np.concatenate([x, copy_vectors])
    for start in range(0, N_TOTAL, 10_000):
        stop = start + 10_000
        col.add(all_texts[start:stop], ids=ids[start:stop], vectors=vectors[start:stop],
                metadatas=[{"planted": i >= len(texts)} for i in range(start, min(stop, N_TOTAL))])
    col.refresh_index()
    col.close()


# ---- one step, in its own process ----------------------------------------------------------

def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_step(step: str) -> dict:
    import embkit

    col = embkit.open(COLLECTION)
    table = col.table()
    x = table.vectors
    loaded = peak_mib()
    start = time.perf_counter()
    if step == "kmeans":
        result = col.cluster(k=K, method="kmeans", field="bench_kmeans")
        out = {"k": result.k, "labels": [result.labels[i] for i in table.ids]}
    elif step == "sklearn-kmeans":
        from sklearn.cluster import KMeans
        labels = KMeans(n_clusters=K, n_init=1, random_state=0).fit_predict(x)
        out = {"k": K, "labels": labels.tolist()}
    elif step == "auto":
        result = col.cluster(k="auto", method="kmeans", field="bench_auto")
        out = {"k": result.k, "silhouettes": result.silhouettes}
    elif step == "hdbscan":
        result = col.cluster(method="hdbscan", field="bench_hdbscan")
        out = {"k": result.k, "noise": result.noise, "notes": result.notes}
    elif step == "dedupe":
        groups = col.duplicates(threshold=THRESHOLD)
        out = {"pairs": sorted(_group_pairs(groups, table)), "groups": len(groups)}
    elif step == "all-pairs":
        out = {"pairs": sorted(all_pairs(x, THRESHOLD))}
    elif step == "map":
        written = col.map(CACHE / "analysis-map.html", method="umap", color_by="bench_kmeans")
        out = {"notes": written.get("notes") if isinstance(written, dict) else None}
    else:
        raise SystemExit(f"unknown step {step!r}")
    seconds = time.perf_counter() - start
    col.close()
    return {"step": step, "seconds": round(seconds, 2), "peak_mib": round(peak_mib(), 1),
            "peak_mib_before": round(loaded, 1), **out}


def _group_pairs(groups, table) -> set[tuple[int, int]]:
    """Every pair inside a group, as positions in the table (what all-pairs finds)."""
    position = {i: p for p, i in enumerate(table.ids)}
    pairs = set()
    for g in groups:
        members = sorted(position[i] for i in g.ids)
        pairs |= {(a, b) for n, a in enumerate(members) for b in members[n + 1:]}
    return pairs


def all_pairs(x: np.ndarray, threshold: float, block: int = 4096) -> set[tuple[int, int]]:
    """The reference: every pair with cosine ≥ threshold, by blocked matrix products,
    closed into connected components so it compares with groups."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rows, cols = [], []
    for start in range(0, len(x), block):
        sims = x[start:start + block] @ x.T
        r, c = np.nonzero(sims >= threshold)
        keep = c > r + start
        rows.append(r[keep] + start)
        cols.append(c[keep])
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(r)), (r, c)), shape=(len(x), len(x)))
    _, labels = connected_components(graph, directed=False)
    pairs = set()
    members: dict[int, list[int]] = {}
    for node in np.unique(np.concatenate([r, c])):
        members.setdefault(int(labels[node]), []).append(int(node))
    for group in members.values():
        group.sort()
        pairs |= {(a, b) for n, a in enumerate(group) for b in group[n + 1:]}
    return pairs


def in_child(step: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", step], capture_output=True, text=True)
    if done.returncode != 0:
        return {"step": step, "error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- the report ----------------------------------------------------------------------------

def compare(steps: list[str]) -> dict:
    from sklearn.metrics import adjusted_rand_score

    results = {}
    for step in steps:
        pair = {"kmeans": ["kmeans", "sklearn-kmeans"], "dedupe": ["dedupe", "all-pairs"]}.get(step, [step])
        for name in pair:
            print(f"running {name}", file=sys.stderr, flush=True)
            results[name] = in_child(name)
    rows = []
    if "kmeans" in results and "labels" in results.get("sklearn-kmeans", {}):
        a, b = results["kmeans"], results["sklearn-kmeans"]
        rows.append(("cluster k=50 (FAISS k-means) vs sklearn KMeans", a, b,
                     f"ARI between the two: {adjusted_rand_score(a.pop('labels'), b.pop('labels')):.3f}"))
    if "dedupe" in results and "pairs" in results.get("all-pairs", {}):
        a, b = results["dedupe"], results["all-pairs"]
        found, truth = {tuple(p) for p in a.pop("pairs")}, {tuple(p) for p in b.pop("pairs")}
        recall = len(found & truth) / len(truth) if truth else 1.0
        rows.append(("duplicates ≥0.95 through the index vs all-pairs", a, b,
                     f"pairs {len(truth)}, recall {recall:.4f}, false {len(found - truth)}, groups {a.get('groups')}"))
    for step in ("auto", "hdbscan", "map"):
        if step in results:
            rows.append((step, results[step], None, json.dumps({k: v for k, v in results[step].items()
                                                                 if k in ("k", "noise", "notes")})))
    return {"results": results, "rows": [{"what": w, "embkit": a, "reference": b, "check": c} for w, a, b, c in rows]}


def markdown(report: dict) -> str:
    lines = ["| task | embkit s | reference s | speed ratio | embkit peak MiB | reference peak MiB | check |",
             "|---|---|---|---|---|---|---|"]
    for row in report["rows"]:
        a, b = row["embkit"], row["reference"]
        if "error" in a:
            lines.append(f"| {row['what']} | error: {a['error']} | | | | | |")
            continue
        ratio = f"{b['seconds'] / a['seconds']:.1f}x" if b and "seconds" in b else ""
        lines.append(f"| {row['what']} | {a['seconds']:.1f} | {b['seconds'] if b else ''} | {ratio} | "
                     f"{a['peak_mib']:.0f} | {b['peak_mib'] if b else ''} | {row['check']} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data"))
    p.add_argument("--steps", default=",".join(STEPS))
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(run_step(args.child)))
        return
    if not (COLLECTION / "embkit.db").exists():
        build_collection(Path(args.data))
    sys.path.insert(0, str(HERE))
    from machine_info import machine

    started = time.perf_counter()
    report = compare(args.steps.split(","))
    report.update(command="benchmarks/bench_analysis.py " + " ".join(sys.argv[1:]),
                  seconds=round(time.perf_counter() - started, 1),
                  machine=machine(["embkit", "faiss-cpu", "scikit-learn", "umap-learn", "numpy"]))
    (HERE / "results" / "bench_analysis.json").write_text(json.dumps(report, indent=1))
    print(markdown(report))


if __name__ == "__main__":
    main()
