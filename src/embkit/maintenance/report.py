"""The outcome of `embkit check`: one line per check, the same shape for the CLI's
`--json`, the HTTP route and Python."""

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

Fix = Callable[[], None]  # a repair of one failed check


class Check(NamedTuple):
    """One verified property of a collection. `derived` checks look at caches that
    `--repair` rebuilds from the store; the others look at the store itself."""

    name: str
    ok: bool
    detail: str
    derived: bool = False


@dataclass(frozen=True)
class Report:
    """Every check, in the order run, and what `repair` rebuilt (names of checks)."""

    checks: list[Check]
    repaired: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def to_dict(self) -> dict:
        """`{"ok", "checks": [{"name", "ok", "detail"}...], "repaired"}`."""
        return {"ok": self.ok, "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
                "repaired": list(self.repaired)}
