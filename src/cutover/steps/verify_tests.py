"""`sf.verify_tests`: the post-deployment Apex tests and org-wide coverage (seed 3.2), judged."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cutover.engine import StepContext, StepOutcome
from cutover.steps.verify_common import SfFactory, _pct, _table

if TYPE_CHECKING:
    from cutover.sf import TestRunResult

# ---------------------------------------------------------------------------------------------------------------------
# 3.2 Automated verification: Apex tests and org-wide coverage
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestsVerdict:
    ok: bool
    detail: str
    table: str


def judge_tests(run: TestRunResult, threshold: float) -> TestsVerdict:
    """All tests pass and org-wide coverage ≥ threshold. `run` is a TestRunResult (possibly from TestsFailed.run)."""
    rows = [(t.full_name, t.outcome, t.time_ms, (t.message or "")[:120]) for t in run.tests]
    table = _table(["Test", "Outcome", "ms", "Message"], rows)
    table += (
        f"\nTests ran: {run.tests_ran}  passing: {run.passing}  failing: {run.failing}  skipped: {run.skipped}\n"
        f"Org-wide coverage: {_pct(run.org_wide_coverage_pct)} (required ≥ {threshold:g}%)\n"
    )
    problems = []
    failures = list(run.failures)
    if failures or run.failing:
        listed = "; ".join(f"{t.full_name}: {(t.message or t.outcome)[:100]}" for t in failures[:3])
        more = f" (+{len(failures) - 3} more)" if len(failures) > 3 else ""
        problems.append(f"{run.failing or len(failures)} of {run.tests_ran} test(s) failed: {listed}{more}")
    elif run.tests_ran == 0:
        problems.append("no Apex tests ran")
    coverage = run.org_wide_coverage_pct
    if coverage is None:
        problems.append("the test run reported no org-wide coverage")
    elif coverage < threshold:
        problems.append(f"org-wide coverage {coverage:g}% is below {threshold:g}%")
    if problems:
        return TestsVerdict(False, "; ".join(problems), table)
    return TestsVerdict(True, f"{run.passing}/{run.tests_ran} tests passed, org-wide coverage {coverage:g}%", table)


@dataclass
class VerifyTestsStep:
    """Detachable (`cutover.engine.overlap`): `submit` starts the run (`apex run test` without `--wait`) and records
    its test run id; `reattach` reads its results (`apex get test`, which waits for an unfinished run) and judges
    them. `run` (no overlap) is one `apex run test --wait` as before."""

    alias: str
    make_sf: SfFactory
    test_level: str = "RunLocalTests"
    threshold: float = 85.0
    wait_minutes: int = 33
    idempotent: bool = True  # running the tests again has no side effect on the org
    #: The release's named tests (relevant tests): `RunSpecifiedTests --tests ...` instead of `test_level`.
    named_tests: Callable[[StepContext], tuple[str, ...]] | None = None

    def _selection(self, ctx: StepContext) -> tuple[str, tuple[str, ...]]:
        tests = self.named_tests(ctx) if self.named_tests is not None else ()
        return ("RunSpecifiedTests", tests) if tests else (self.test_level, ())

    def run(self, ctx: StepContext) -> StepOutcome:
        from cutover.sf import StillRunning, TestsFailed

        level, tests = self._selection(ctx)
        try:
            with self.make_sf(ctx) as sf:
                run = sf.apex_run_test(
                    self.alias, test_level=level, tests=tests or None, code_coverage=True, wait=self.wait_minutes
                )
        except TestsFailed as exc:
            if exc.run is None:
                raise
            run = exc.run
        except StillRunning as exc:
            if not exc.job_id:
                raise
            ctx.set_external_id("test_run_id", exc.job_id)
            return self.reattach(ctx, {"test_run_id": exc.job_id})
        return self._judge(ctx, run)

    def submit(self, ctx: StepContext) -> None:
        """Start the tests and record the test run id; the engine joins them later (`reattach`)."""
        level, tests = self._selection(ctx)
        with self.make_sf(ctx) as sf:
            run_id = sf.apex_submit_tests(self.alias, test_level=level, tests=tests or None, code_coverage=True)
        ctx.set_external_id("test_run_id", run_id)

    def reattach(self, ctx: StepContext, external_ids: Mapping[str, Any]) -> StepOutcome:
        """Collect a run's results (waiting for it to finish) instead of starting the tests again."""
        from cutover.sf import TestsFailed

        try:
            with self.make_sf(ctx) as sf:
                run = sf.apex_get_test(
                    self.alias, str(external_ids["test_run_id"]), code_coverage=True, wait=self.wait_minutes
                )
        except TestsFailed as exc:
            if exc.run is None:
                raise
            run = exc.run
        return self._judge(ctx, run)

    def _judge(self, ctx: StepContext, run: TestRunResult) -> StepOutcome:
        verdict = judge_tests(run, self.threshold)
        ctx.record_evidence("apex-tests.txt", verdict.table)
        data = {
            "test_run_id": run.test_run_id,
            "tests_ran": run.tests_ran,
            "failing": run.failing,
            "org_wide_coverage": run.org_wide_coverage_pct,
            "threshold": self.threshold,
        }
        return StepOutcome.passed(verdict.detail, **data) if verdict.ok else StepOutcome.failed(verdict.detail, **data)
