"""A skip must not hide a missing part: the run fails when a test skipped for a reason
that would not hold on every machine (a missing browser, server, package or data set),
so `make test` on a fresh machine is the suite CI runs, or it says what is missing.

Allowed reasons start with one of ALLOWED_PREFIXES:
- "not applicable:"     the test has no meaning here on any machine (e.g. a parameter
                        combination that the code under test rules out by design);
- "no mount namespace:" the test needs a private mount (read-only bind, tmpfs, loop
                        file) and the kernel or container refuses `unshare`; no install
                        can fix that, and the same test runs where mounts are allowed.

The hooks are imported by tests/conftest.py; `-p skip_policy` loads them elsewhere.
"""

import pytest

ALLOWED_PREFIXES = ("not applicable:", "no mount namespace:")
_skips: list[tuple[str, str]] = []  # (test id, reason) of every skip in this session


def allowed(reason: str) -> bool:
    """True when a skip's reason holds on any machine."""
    return reason.startswith(ALLOWED_PREFIXES)


def _record(report) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        longrepr = report.longrepr  # (path, line, "Skipped: reason") for a skip
        message = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        _skips.append((report.nodeid, message.removeprefix("Skipped: ")))


def disallowed() -> list[tuple[str, str]]:
    """The skips of this session whose reason does not hold on every machine."""
    return [(nodeid, reason) for nodeid, reason in _skips if not allowed(reason)]


def pytest_sessionstart(session):
    _skips.clear()


def pytest_collectreport(report):
    """A module-level importorskip or skip is reported here, at collection."""
    _record(report)


def pytest_runtest_logreport(report):
    _record(report)


def pytest_sessionfinish(session, exitstatus):
    """Turn a passing run with a disallowed skip into a failing one."""
    if disallowed() and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Name each disallowed skip and what would make it allowed."""
    bad = disallowed()
    if not bad:
        return
    terminalreporter.section("skips that fail the run (a part is missing on this machine)", red=True)
    for nodeid, reason in bad:
        terminalreporter.line(f"{nodeid}: {reason}")
    terminalreporter.line(f"install what is missing (make test does), or give a reason starting with one of "
                          f"{', '.join(repr(p) for p in ALLOWED_PREFIXES)} if it holds on every machine")
