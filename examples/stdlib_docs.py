"""Collect the docstrings of the installed Python standard library as jsonl records.

Read with `ast` from the source files, never by importing modules (some act at
import: `antigravity` opens a web browser). One record per public module, class,
function and method: id = dotted name, text = "name: first paragraph".
"""

import ast
import json
import sys
import sysconfig
from pathlib import Path

SKIP_DIRS = {"test", "tests", "idle_test", "idlelib", "lib2to3", "turtledemo", "site-packages",
             "ensurepip", "__pycache__", "__phello__", "pydoc_data"}
MAX_CHARS = 1000


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def first_paragraph(doc: str) -> str:
    paragraph = doc.strip().split("\n\n")[0]
    return " ".join(paragraph.split())[:MAX_CHARS]


def records_of(root: Path, path: Path):
    module = module_name(root, path)
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError):
        return
    yield from _node_records(tree, module, module, "module", path, root)


def _node_records(node, qualname, module, kind, path, root):
    doc = ast.get_docstring(node)
    if doc and doc.strip():
        yield {"id": qualname, "text": f"{qualname}: {first_paragraph(doc)}", "module": module,
               "kind": kind, "file": str(path.relative_to(root)), "line": getattr(node, "lineno", 1)}
    for child in getattr(node, "body", []):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not child.name.startswith("_"):
            child_kind = "class" if isinstance(child, ast.ClassDef) else ("method" if kind == "class" else "function")
            if kind in ("module", "class"):
                yield from _node_records(child, f"{qualname}.{child.name}", module, child_kind, path, root)


def main(out: Path) -> None:
    root = Path(sysconfig.get_paths()["stdlib"])
    seen, count = set(), 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root).parts
            if any(p in SKIP_DIRS for p in rel) or any(p.startswith("_") and p != "__init__.py" for p in rel):
                continue
            for record in records_of(root, path):
                if record["id"] not in seen:
                    seen.add(record["id"])
                    f.write(json.dumps(record) + "\n")
                    count += 1
    print(f"collected {count} docstrings from the standard library at {root}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "demo-output/stdlib.jsonl"))
