"""Shared result types: per-class coverage, one test's outcome, and the deploy/retrieve states.

Coverage is computed the way the CLI does it (plugin-deploy-retrieve `utils/coverage.ts`):
pct = 100 * Σ(numLocations − numLocationsNotCovered) / Σ numLocations, and a class with no locations counts 100%.
Every class's covered lines are summed, whether or not it has uncovered lines (sfdx-hardis only adds them when
`numLocationsNotCovered > 0`, which under-counts fully covered classes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Deploy/retrieve request states after which nothing changes any more.
FINAL_STATUSES = frozenset({"Succeeded", "SucceededPartial", "Failed", "Canceled"})
FAILED_STATUSES = frozenset({"Failed", "Canceled", "FinalizingFailed"})


# --------------------------------------------------------------------------------------------------------- coverage
@dataclass(frozen=True)
class ClassCoverage:
    """Lines of one Apex class or trigger that tests reached."""

    name: str
    num_locations: int
    num_not_covered: int
    type: str = "Class"

    @property
    def covered(self) -> int:
        # Clamped: upstream mocks carry numLocationsNotCovered > numLocations; a class never covers < 0 lines.
        return max(0, self.num_locations - max(0, self.num_not_covered))

    @property
    def pct(self) -> float:
        if self.num_locations <= 0:
            return 100.0
        return 100.0 * self.covered / self.num_locations


def coverage_pct(classes: Iterable[ClassCoverage]) -> float | None:
    """Aggregate line coverage over `classes`; None when there is no coverage data at all."""
    items = list(classes)
    if not items:
        return None
    total = sum(max(0, c.num_locations) for c in items)
    if total == 0:
        return 100.0
    return 100.0 * sum(c.covered for c in items) / total


@dataclass(frozen=True)
class TestCase:
    """One Apex test method's outcome (Pass | Fail | CompileFail | Skip)."""

    __test__ = False  # not a pytest test class, despite the name

    class_name: str
    method: str
    outcome: str
    message: str | None = None
    stack_trace: str | None = None
    time_ms: int | None = None

    @property
    def full_name(self) -> str:
        return f"{self.class_name}.{self.method}" if self.method else self.class_name

    @property
    def failed(self) -> bool:
        return self.outcome in ("Fail", "CompileFail")
