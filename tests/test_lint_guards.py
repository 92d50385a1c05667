"""The guards `make lint` runs inside `make test` really guard: import-linter fails on an
import that points up the layers of DESIGN.md, ruff fails on a lint error, and the
`test` target depends on `lint`. Each runs on a temp copy, never on the checkout."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

from corpora import REPO

BIN = Path(sys.executable).parent  # ruff and lint-imports come with the test extra


def _copy_project(tmp_path: Path) -> Path:
    """pyproject.toml (the contracts) and src/ in a fresh folder."""
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(REPO / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return tmp_path


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    # PYTHONPATH puts the copy's embkit ahead of the editable install's
    env = {"PATH": str(BIN), "PYTHONPATH": str(root / "src"), "HOME": str(root)}
    return subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_upward_import_breaks_the_layers_contract(tmp_path):
    root = _copy_project(tmp_path)
    kept = _lint_imports(root)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "2 kept, 0 broken" in kept.stdout

    errors = root / "src" / "embkit" / "errors.py"  # the bottom layer reaching for the facade
    errors.write_text(errors.read_text() + "\nfrom .collection import Collection  # noqa: E402,F401\n")
    broken = _lint_imports(root)
    assert broken.returncode == 1
    assert "1 kept, 1 broken" in broken.stdout
    assert "embkit.errors is not allowed to import embkit.collection" in broken.stdout


def test_an_import_cycle_inside_encoders_breaks_the_tree_contract(tmp_path):
    """The catalog table sits below the loader: the table reaching for the loader (the
    cycle issue 20 removed, even as an import inside a function) breaks the contract."""
    root = _copy_project(tmp_path)
    catalog = root / "src" / "embkit" / "encoders" / "catalog.py"
    catalog.write_text(catalog.read_text() + "\n\ndef _late():\n    from .loader import load_encoder  # noqa: F401\n")
    broken = _lint_imports(root)
    assert broken.returncode == 1
    assert "1 kept, 1 broken" in broken.stdout
    assert "embkit.encoders" in broken.stdout


def _ruff(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "ruff"), *args], cwd=root, capture_output=True, text=True, timeout=60, check=False)


def test_ruff_fails_on_an_unused_import_and_on_imports_out_of_order(tmp_path):
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    module = tmp_path / "src" / "embkit" / "guarded.py"
    module.parent.mkdir(parents=True)
    module.write_text('"""A clean module."""\n\nimport json\nimport os\n\nprint(json.dumps(os.sep))\n')
    clean = _ruff(tmp_path, "check", "--no-cache", "--output-format", "concise", "src")
    assert clean.returncode == 0, clean.stdout + clean.stderr

    module.write_text('"""A module with lint."""\n\nimport os\nimport json\nimport sys\n\nprint(json.dumps(os.sep))\n')
    dirty = _ruff(tmp_path, "check", "--no-cache", "--output-format", "concise", "src")
    assert dirty.returncode == 1
    codes = sorted(set(re.findall(r"guarded\.py:\d+:\d+: ([A-Z]+\d+)", dirty.stdout)))
    assert codes == ["F401", "I001"]


def test_make_test_runs_the_lint_target_first():
    makefile = (REPO / "Makefile").read_text()
    test_deps = re.search(r"^test:(.*)$", makefile, re.M).group(1).split()
    assert "lint" in test_deps
    lint = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "ruff check src tests" in lint
    assert "ruff format --check" in lint
    assert "lint-imports" in lint


def test_every_file_held_to_the_formatter_exists():
    """A renamed file would otherwise drop out of the format check unnoticed (ruff errors on it)."""
    listed = [line for line in (REPO / "ruff-format-files.txt").read_text().splitlines() if line.endswith(".py")]
    assert listed
    assert [p for p in listed if not (REPO / p).is_file()] == []
