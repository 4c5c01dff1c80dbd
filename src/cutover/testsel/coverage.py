"""Salesforce's 75 % rule for RunSpecifiedTests, and the test level of a release with relevant tests.

A production deploy with RunSpecifiedTests fails unless every Apex class and trigger in it reaches 75 % line
coverage from the specified tests alone. cutover refuses before Salesforce does:

- before validating: `relevant_test_run` refuses (exit 1, one line) when an Apex class or trigger of the deploy is
  reached by no selected test (it would be at 0 %);
- after validating: `coverage_shortfall(deploy_classes, coverage)` lists the deploy's classes under 75 % in the
  validation's `runTestResult.codeCoverage`; `check_release_coverage` turns that into the refusal line, and
  `validation_refusal(ctx, runbook, coverage)` is the same for the validate step (it finds the run's delta).

With API version 66.0 or later, `sf.test_level: RunRelevantTests` lets Salesforce pick the tests instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cutover.errors import Failure, UsageError
from cutover.runbook.inspect import read_sfdx_project
from cutover.runbook.models import Runbook
from cutover.sf.results_base import ClassCoverage
from cutover.testsel.select import DeltaLike, TestSelection, select_tests

MIN_CLASS_COVERAGE = 75.0
if TYPE_CHECKING:
    from cutover.engine import StepContext

RELEVANT_TESTS_API = 66.0
RUN_RELEVANT = "RunRelevantTests"
REFUSAL_HINT = (
    "add or extend a test class that exercises them, or let Salesforce pick the tests with "
    "sf.test_level: RunRelevantTests (API 66.0 or later)"
)


def _floor1(pct: float) -> str:
    """74.96 -> '74.9': never round a shortfall up to the threshold."""
    return f"{math.floor(pct * 10) / 10:g}"


def coverage_shortfall(deploy_classes: Iterable[str], coverage: Iterable[ClassCoverage]) -> list[str]:
    """The deploy's Apex classes/triggers under 75 % in `coverage` (`runTestResult.codeCoverage`), each as
    `Name 60 %`, in the order given. A class the tests never ran is not in codeCoverage: it counts as 0 %.
    Several entries of one name (a class and a trigger, or repeated rows) are added up."""
    totals: dict[str, tuple[int, int]] = {}
    for entry in coverage:
        name = entry.name.lower().rpartition(".")[2]
        located, covered = totals.get(name, (0, 0))
        totals[name] = (located + max(0, entry.num_locations), covered + entry.covered)
    short: list[str] = []
    for name in dict.fromkeys(deploy_classes):
        located, covered = totals.get(name.lower(), (1, 0))  # never run by the tests: 0 %
        pct = 100.0 if located == 0 else 100.0 * covered / located
        if pct < MIN_CLASS_COVERAGE:
            short.append(f"{name} {_floor1(pct)} %")
    return short


def shortfall_message(short: list[str]) -> str:
    return (
        f"{len(short)} Apex class(es)/trigger(s) of the release below {MIN_CLASS_COVERAGE:g} % coverage from the "
        f"specified tests (Salesforce refuses a RunSpecifiedTests deploy): {', '.join(short)}"
    )


def require_class_coverage(deploy_classes: Iterable[str], coverage: Iterable[ClassCoverage]) -> None:
    """Raise Failure (exit 1, one line) when a class of the deploy is under 75 %."""
    short = coverage_shortfall(deploy_classes, coverage)
    if short:
        raise Failure(shortfall_message(short), hint=REFUSAL_HINT)


@dataclass(frozen=True)
class TestRun:
    """How a release with `sf.relevant_tests` runs its tests: the level, the named tests (RunSpecifiedTests), a
    summary line, and the Apex of the deploy that needs 75 % from those tests (checked again after validating)."""

    __test__ = False

    test_level: str
    tests: tuple[str, ...]
    summary: str
    coverage_required: tuple[str, ...] = ()
    selection: TestSelection | None = None


def project_api_version(project_dir: Path, runbook: Runbook) -> str | None:
    """`sf.api_version`, else sfdx-project.json's sourceApiVersion (None when neither says)."""
    if runbook.sf.api_version:
        return runbook.sf.api_version
    try:
        return read_sfdx_project(project_dir)[1]
    except UsageError:
        return None


def wants_salesforce_pick(runbook: Runbook) -> bool:
    """The runbook asks Salesforce to pick the tests (`sf.test_level: RunRelevantTests`)."""
    return str(runbook.sf.test_level) == RUN_RELEVANT


def relevant_test_run(project_dir: Path, delta: DeltaLike, runbook: Runbook) -> TestRun:
    """The test level and tests of a release with `sf.relevant_tests`, refusing (Failure, one line) a
    RunSpecifiedTests deploy in which an Apex class or trigger is reached by no selected test.

    - `sf.test_level: RunRelevantTests` and API 66.0 or later: RunRelevantTests, Salesforce picks (before 66.0 a
      UsageError: sf itself refuses it);
    - no Apex in the deploy and no test selected: NoTestRun (allowed in production without Apex); Apex needing no
      coverage (an interface) that no test reaches: the runbook's `sf.test_level`;
    - else RunSpecifiedTests with the selected test classes."""
    api = project_api_version(project_dir, runbook)
    if wants_salesforce_pick(runbook):
        if api is None or float(api) < RELEVANT_TESTS_API:
            raise UsageError(
                f"sf.test_level {RUN_RELEVANT} needs API version {RELEVANT_TESTS_API:g} or later "
                f"(the project's is {api or 'not set'})",
                hint="set sf.api_version (or sourceApiVersion in sfdx-project.json) to 66.0, or drop the test level",
            )
        return TestRun(RUN_RELEVANT, (), f"{RUN_RELEVANT}: Salesforce picks the tests (API {api})")
    selection = select_tests(project_dir, delta, runbook)
    refusal = selection.refusal()
    if refusal is not None:
        raise Failure(refusal, hint=REFUSAL_HINT)
    if not selection.tests:
        if not selection.deploys_apex:  # production accepts NoTestRun only for a deploy without Apex
            return TestRun("NoTestRun", (), "no Apex in the release: NoTestRun", (), selection)
        level = str(runbook.sf.test_level)  # Apex that needs no coverage (an interface) and no test reaching it
        return TestRun(level, (), f"no relevant test for the release's Apex: {level}", (), selection)
    names = selection.names
    return TestRun(
        "RunSpecifiedTests",
        names,
        f"{len(names)} relevant test class(es) for {len(selection.release_apex)} Apex class(es)/trigger(s)",
        selection.release_apex,
        selection,
    )


def check_release_coverage(
    project_dir: Path, runbook: Runbook, delta: DeltaLike | None, coverage: Iterable[ClassCoverage]
) -> str | None:
    """After a RunSpecifiedTests validation of a release with relevant tests: the refusal line when an Apex class or
    trigger of the deploy is under 75 % in the validation's coverage, else None (also None without relevant tests
    or a delta, when the rule does not apply)."""
    if not runbook.sf.relevant_tests or delta is None or wants_salesforce_pick(runbook):
        return None
    short = coverage_shortfall(select_tests(project_dir, delta, runbook).release_apex, coverage)
    return shortfall_message(short) if short else None


def validation_refusal(ctx: StepContext, runbook: Runbook, coverage: Iterable[ClassCoverage]) -> str | None:
    """For the validate step, after the validation: the one-line refusal when the run validated with the relevant
    tests (RunSpecifiedTests) and `coverage` (the validation's `runTestResult.codeCoverage`) leaves an Apex class or
    trigger of the deploy under 75 %; None otherwise (no relevant tests, another test level)."""
    if not runbook.sf.relevant_tests:
        return None
    from cutover.steps._selection import release_selection  # the run's frozen delta and its test level

    selection = release_selection(ctx, runbook)
    if selection.test_level != "RunSpecifiedTests" or selection.delta is None:
        return None
    return check_release_coverage(Path(ctx.project_dir), runbook, selection.delta, coverage)
