"""Apex results: `apex run test` / `apex get test` (RunResult) and anonymous Apex (`apex run`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cutover.sf.coerce import (
    as_bool,
    as_count,
    as_dict,
    as_list,
    as_opt_int,
    as_opt_str,
    as_percent,
    as_str,
    parse_duration_ms,
)
from cutover.sf.results_base import ClassCoverage, TestCase


# ----------------------------------------------------------------------------------------------------- apex tests
@dataclass(frozen=True)
class TestRunResult:
    """The result of `apex run test` / `apex get test` (RunResult). `completed` is False when only an id came back."""

    __test__ = False

    test_run_id: str
    completed: bool
    outcome: str = ""
    tests_ran: int = 0
    passing: int = 0
    failing: int = 0
    skipped: int = 0
    pass_rate: float | None = None
    org_wide_coverage_pct: float | None = None
    test_run_coverage_pct: float | None = None
    execution_time_ms: int | None = None
    tests: tuple[TestCase, ...] = ()
    class_coverage: tuple[ClassCoverage, ...] = ()

    @property
    def failures(self) -> tuple[TestCase, ...]:
        return tuple(t for t in self.tests if t.failed)

    @property
    def failed(self) -> bool:
        return self.outcome == "Failed" or self.failing > 0


def _get(entry: Mapping[str, Any], *names: str) -> Any:
    """First present key among `names` (the RunResult appears both as `Outcome` and as `outcome`)."""
    for name in names:
        if name in entry:
            return entry[name]
    return None


def _apex_test_case(raw: Any) -> TestCase:
    entry = as_dict(raw)
    apex_class = as_dict(_get(entry, "ApexClass", "apexClass"))
    class_name = as_str(_get(apex_class, "Name", "name"))
    method = as_str(_get(entry, "MethodName", "methodName"))
    full_name = as_str(_get(entry, "FullName", "fullName"))
    if not class_name and "." in full_name:
        class_name = full_name.rsplit(".", 1)[0]
    return TestCase(
        class_name=class_name,
        method=method,
        outcome=as_str(_get(entry, "Outcome", "outcome")),
        message=as_opt_str(_get(entry, "Message", "message")),
        stack_trace=as_opt_str(_get(entry, "StackTrace", "stackTrace")),
        time_ms=as_opt_int(_get(entry, "RunTime", "runTime")),
    )


def _apex_class_coverage(entries: Any) -> tuple[ClassCoverage, ...]:
    out = []
    for raw in as_list(entries):
        entry = as_dict(raw)
        name = as_str(entry.get("name"))
        if not name:
            continue
        total = as_count(entry.get("totalLines"), "totalLines")
        covered = as_count(entry.get("totalCovered"), "totalCovered")
        out.append(ClassCoverage(name=name, num_locations=total, num_not_covered=max(0, total - covered)))
    return tuple(out)


def parse_test_run(result: Any) -> TestRunResult:
    data = as_dict(result)
    summary = as_dict(data.get("summary"))
    coverage = as_dict(data.get("coverage"))
    coverage_summary = as_dict(coverage.get("summary"))
    run_id = as_str(summary.get("testRunId")) or as_str(data.get("testRunId"))
    tests = tuple(_apex_test_case(t) for t in as_list(data.get("tests")) if as_dict(t))
    failing = as_count(summary.get("failing"), "failing", sum(1 for t in tests if t.failed))
    org_wide = as_percent(summary.get("orgWideCoverage"), "orgWideCoverage")
    if org_wide is None:
        org_wide = as_percent(coverage_summary.get("orgWideCoverage"), "orgWideCoverage")
    run_cov = as_percent(summary.get("testRunCoverage"), "testRunCoverage")
    if run_cov is None:
        run_cov = as_percent(coverage_summary.get("testRunCoverage"), "testRunCoverage")
    exec_time = parse_duration_ms(summary.get("testExecutionTime"))
    if exec_time is None:
        exec_time = as_opt_int(summary.get("testExecutionTimeInMs"))
    return TestRunResult(
        test_run_id=run_id,
        completed=bool(summary),
        outcome=as_str(summary.get("outcome")),
        tests_ran=as_count(summary.get("testsRan"), "testsRan", len(tests)),
        passing=as_count(summary.get("passing"), "passing"),
        failing=failing,
        skipped=as_count(summary.get("skipped"), "skipped"),
        pass_rate=as_percent(summary.get("passRate"), "passRate"),
        org_wide_coverage_pct=org_wide,
        test_run_coverage_pct=run_cov,
        execution_time_ms=exec_time,
        tests=tests,
        class_coverage=_apex_class_coverage(coverage.get("coverage")),
    )


# --------------------------------------------------------------------------------------------------- anonymous apex
@dataclass(frozen=True)
class AnonymousApexResult:
    success: bool
    compiled: bool
    compile_problem: str | None = None
    exception_message: str | None = None
    exception_stack_trace: str | None = None
    line: int | None = None
    column: int | None = None
    logs: str = field(default="", repr=False)


def parse_anonymous_apex(result: Any) -> AnonymousApexResult:
    data = as_dict(result)
    return AnonymousApexResult(
        success=as_bool(data.get("success")),
        compiled=as_bool(data.get("compiled")),
        compile_problem=as_opt_str(data.get("compileProblem")),
        exception_message=as_opt_str(data.get("exceptionMessage")),
        exception_stack_trace=as_opt_str(data.get("exceptionStackTrace")),
        line=as_opt_int(data.get("line")),
        column=as_opt_int(data.get("column")),
        logs=as_str(data.get("logs")),
    )
