"""A skip for a missing part fails the run (tests/skip_policy.py): a real pytest in a
subprocess on a throwaway suite, with and without such a skip."""

import subprocess
import sys
from pathlib import Path

from skip_policy import ALLOWED_PREFIXES, allowed

TESTS = Path(__file__).resolve().parent

ALLOWED_ONLY = '''
import pytest

def test_runs():
    assert True

@pytest.mark.skipif(True, reason="not applicable: binary scans every code")
def test_meaningless_here():
    pass

def test_no_mounts():
    pytest.skip("no mount namespace: unshare -rm refused")

@pytest.mark.xfail(reason="an expected failure is not a skip")
def test_xfail():
    assert False
'''

MISSING_PART = '''
import pytest

def test_browser():
    pytest.skip("needs Debian's Chromium at /usr/bin/chromium")
'''

MISSING_MODULE = '''
import pytest

pytest.importorskip("no_such_module_for_embkit")

def test_never_collected():
    pass
'''


def run_suite(tmp_path: Path, files: dict[str, str]) -> subprocess.CompletedProcess:
    """pytest with only the skip policy plugin (no repo conftest, no repo settings)."""
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "skip_policy", "-p", "no:cacheprovider",
                           "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path), str(tmp_path)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={"PYTHONPATH": str(TESTS), "PATH": "/usr/bin:/bin"}, check=False)


def test_reasons_that_hold_on_any_machine_pass(tmp_path):
    done = run_suite(tmp_path, {"test_ok.py": ALLOWED_ONLY})
    assert done.returncode == 0, done.stdout
    assert "1 passed, 2 skipped, 1 xfailed" in done.stdout
    assert "skips that fail the run" not in done.stdout


def test_a_missing_part_fails_the_run_and_is_named(tmp_path):
    done = run_suite(tmp_path, {"test_ok.py": ALLOWED_ONLY, "test_browser.py": MISSING_PART,
                                "test_module.py": MISSING_MODULE})
    assert done.returncode == 1, done.stdout
    assert "1 passed, 4 skipped, 1 xfailed" in done.stdout
    section = done.stdout.split("skips that fail the run (a part is missing on this machine)")[1]
    named = [line for line in section.splitlines() if line.startswith("test_")]
    assert named == ["test_module.py: could not import 'no_such_module_for_embkit': "  # at collection
                     "No module named 'no_such_module_for_embkit'",
                     "test_browser.py::test_browser: needs Debian's Chromium at /usr/bin/chromium"]


def test_allowed_prefixes():
    assert ALLOWED_PREFIXES == ("not applicable:", "no mount namespace:")
    assert allowed("not applicable: SIGKILL is POSIX") and allowed("no mount namespace: unshare refused")
    assert not allowed("PostgreSQL: running as root and there is no 'postgres' user")
    assert not allowed("Not applicable: wrong case") and not allowed(" not applicable: leading space")
