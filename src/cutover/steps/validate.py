"""`sf.validate`: seed "Step 1: Validate Deployment (DRY RUN)" — a check-only deploy with RunLocalTests, judged.

`sf project deploy start --dry-run --test-level RunLocalTests --manifest ... --async` submits the validation; its
job id is recorded (`validation_id`) *before* any waiting, so a crash leaves something to re-attach to. Then
`sf project deploy report --job-id` every ~2 s at first, then less often as the wait grows (`poll_interval`), with
live progress (components and tests done/total), until the job
is done. `wait_for_deploy` is shared with the quick deploy.

Validation Criteria (seed): status Succeeded, no component failures, every test passes (`thresholds.
test_pass_rate`, 100 by default), coverage ≥ `thresholds.apex_coverage` — computed from `runTestResult.codeCoverage`
with the adapter's maths (Σ covered / Σ locations). The full report JSON and the criteria table are evidence; the
detail line reads e.g. `Succeeded: 24/24 components, 31/31 tests, coverage 91.2% ≥ 85%`. Any unmet criterion is a
blocking failure whose detail names the first problems (file:line, Class.method: message, coverage shortfall).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cutover.engine import StepContext, StepOutcome
from cutover.errors import Failure
from cutover.sf import (
    DeployResult,
    SfApiError,
    SfBadOutput,
    SfCli,
    SfCommandFailed,
    SfCrashed,
    SfError,
    SfTimeout,
)
from cutover.steps._selection import release_selection
from cutover.steps._sf import last_result, polling, sf_session
from cutover.steps.registry import StepServices, register_action
from cutover.testsel import validation_refusal

POLL_INTERVAL_S = 2.0
#: The poll interval grows with the time already waited (a tenth of it: the answer comes at most ~10 % late), up to
#: this: an hours-long deploy is asked ~150 times an hour instead of 1,800 (each `sf` call costs 0.5-2 s of CPU).
MAX_POLL_INTERVAL_S = 30.0
POLL_FRACTION = 0.1
# A report call can fail once in a while (network blip, org busy); this many in a row end the wait.
MAX_CONSECUTIVE_POLL_ERRORS = 3
TRANSIENT_ERRORS = (SfApiError, SfBadOutput, SfCommandFailed, SfCrashed, SfTimeout)
# Salesforce's component problem for a Schedulable class that has scheduled jobs waiting.
PENDING_JOBS_TEXT = "jobs pending or in progress"


class StillWaiting(Failure):
    """The job did not finish within the runbook's `sf.wait_minutes`."""


def describe_progress(label: str, report: DeployResult) -> str:
    parts = [f"{label} {report.id}: {report.status or 'Queued'}"]
    if report.components_total:
        errors = f", {report.component_errors} error(s)" if report.component_errors else ""
        parts.append(f"components {report.components_deployed}/{report.components_total}{errors}")
    if report.tests_total:
        errors = f", {report.test_errors} failing" if report.test_errors else ""
        parts.append(f"tests {report.tests_completed}/{report.tests_total}{errors}")
    if report.state_detail:
        parts.append(report.state_detail)
    return " — ".join(parts)


def poll_interval(base_s: float, waited_s: float) -> float:
    """Seconds until the next `deploy report`: `base_s` at first, then a tenth of the time waited, at most 30 s."""
    return max(base_s, min(MAX_POLL_INTERVAL_S, waited_s * POLL_FRACTION))


def wait_for_deploy(
    ctx: StepContext,
    sf: SfCli,
    alias: str,
    job_id: str,
    *,
    label: str,
    timeout_s: float,
    interval_s: float = POLL_INTERVAL_S,
    sleep: Any = time.sleep,
) -> DeployResult:
    """Poll `deploy report` until the job is done; live progress on `ctx.progress`, status changes as events."""
    started = time.monotonic()
    deadline = started + timeout_s
    failures_in_row = 0
    last_status = None
    with polling(sf):
        while True:
            asked = time.monotonic()
            try:
                report = sf.deploy_report(alias, job_id)
            except TRANSIENT_ERRORS as exc:
                failures_in_row += 1
                ctx.event("deploy.poll_error", job_id=job_id, error=exc.message, in_a_row=failures_in_row)
                if failures_in_row >= MAX_CONSECUTIVE_POLL_ERRORS:
                    raise
                sleep(interval_s)
                continue
            failures_in_row = 0
            ctx.progress.update(describe_progress(label, report))
            if report.status != last_status:
                last_status = report.status
                ctx.event(
                    "deploy.status",
                    job_id=job_id,
                    status=report.status,
                    components=f"{report.components_deployed}/{report.components_total}",
                    tests=f"{report.tests_completed}/{report.tests_total}",
                )
            if report.finished:
                return report
            if time.monotonic() >= deadline:
                raise StillWaiting(
                    f"{label} {job_id} still {report.status or 'running'} after {timeout_s / 60:.0f} min",
                    hint=f"it keeps running in the org; wait again with `cutover retry {ctx.step.id} && cutover "
                    "resume` (a deploy already submitted is re-attached, never submitted twice), or check it with "
                    f"`sf project deploy report --job-id {job_id} --target-org {alias}`",
                )
            # A report call itself takes 0.5-3 s: wait only the rest of the interval.
            sleep(max(0.0, poll_interval(interval_s, time.monotonic() - started) - (time.monotonic() - asked)))


def record_report(ctx: StepContext, sf: SfCli, name: str) -> None:
    """The last `deploy report` answer (full JSON, redacted) as evidence."""
    final = last_result(sf)
    if final is not None:
        ctx.record_evidence(name, final.to_evidence())


# -------------------------------------------------------------------------------------------------------- criteria
@dataclass(frozen=True)
class Criterion:
    name: str
    expected: str
    actual: str
    ok: bool


def _fmt_pct(value: float) -> str:
    return f"{value:.1f}%"


APEX_TYPES = ("ApexClass", "ApexTrigger")  # the metadata types that hold Apex code


def apex_free(result: DeployResult) -> bool:
    """True when the deploy's component list is known and holds no Apex: Salesforce runs no tests for it, so "all
    tests pass" and "coverage" hold vacuously. An unknown component list proves nothing (False)."""
    types = {c.type for c in (*result.component_successes, *result.component_failures)}
    types |= {f.type for f in result.files}
    types.discard("")
    return bool(types) and types.isdisjoint(APEX_TYPES)


def validation_criteria(result: DeployResult, *, min_coverage: float, pass_rate: float = 100) -> list[Criterion]:
    """The seed's Validation Criteria, each with what was expected and what the validation gave."""
    tests = result.tests
    run = tests.num_run if tests else 0
    failed = tests.num_failures if tests else 0
    passed_pct = 100.0 * (run - failed) / run if run else 0.0
    coverage = result.coverage_pct
    component_failures = len(result.failures) or result.component_errors
    no_apex = run == 0 and apex_free(result)
    return [
        Criterion("Status", "Succeeded", result.status or "(none)", result.status == "Succeeded"),
        Criterion("No component failures", "0", str(component_failures), component_failures == 0),
        Criterion(
            "All tests pass",
            f"{pass_rate:g}% of tests pass",
            f"{run - failed}/{run} ({_fmt_pct(passed_pct)})"
            if run
            else ("no Apex in the release: no tests to run" if no_apex else "no tests ran"),
            no_apex or (run > 0 and failed == 0 and passed_pct >= pass_rate),
        ),
        Criterion(
            "Code coverage",
            f"≥ {min_coverage:g}%",
            _fmt_pct(coverage)
            if coverage is not None
            else ("no Apex in the release: nothing to cover" if no_apex else "no coverage data"),
            no_apex or (coverage is not None and coverage >= min_coverage),
        ),
    ]


def criteria_table(criteria: list[Criterion]) -> str:
    lines = ["| criterion | expected | actual | result |", "|---|---|---|---|"]
    lines += [f"| {c.name} | {c.expected} | {c.actual} | {'pass' if c.ok else 'FAIL'} |" for c in criteria]
    return "\n".join(lines) + "\n"


def summary_line(result: DeployResult, *, min_coverage: float | None = None) -> str:
    """`Succeeded: 24/24 components, 31/31 tests, coverage 91.2% ≥ 85%`."""
    parts = [f"{result.components_deployed}/{result.components_total} components"]
    tests = result.tests
    if tests and tests.num_run:
        parts.append(f"{tests.num_run - tests.num_failures}/{tests.num_run} tests")
    elif result.tests_total:
        parts.append(f"{result.tests_completed - result.test_errors}/{result.tests_total} tests")
    coverage = result.coverage_pct
    if coverage is not None:
        text = f"coverage {_fmt_pct(coverage)}"
        if min_coverage is not None:
            text += f" {'≥' if coverage >= min_coverage else '<'} {min_coverage:g}%"
        parts.append(text)
    elif not (tests and tests.num_run) and apex_free(result):
        parts.append("no Apex: no tests to run")
    return f"{result.status}: " + ", ".join(parts)


def failure_reasons(result: DeployResult, criteria: list[Criterion] | None = None, limit: int = 3) -> list[str]:
    """The first problems, most useful first: component errors (file:line), failing tests, coverage."""
    reasons = []
    for comp in result.failures[:limit]:
        where = comp.file or comp.name
        if comp.line is not None:
            where += f":{comp.line}" + (f":{comp.column}" if comp.column is not None else "")
        reasons.append(f"{comp.type} {comp.name} ({where}): {comp.problem or 'failed'}")
    for test in result.test_failures[:limit]:
        reasons.append(f"test {test.full_name}: {test.message or test.stack_trace or 'failed'}")
    for criterion in criteria or []:
        if criterion.name == "Code coverage" and not criterion.ok:
            reasons.append(f"coverage {criterion.actual} below {criterion.expected.lstrip('≥ ')}")
    blocked = sorted({c.name for c in result.failures if PENDING_JOBS_TEXT in (c.problem or "")})
    if blocked:
        reasons.append(
            f"Schedulable class(es) with pending jobs: {', '.join(blocked)} — enable 'Allow deployments of "
            "components when corresponding Apex jobs are pending or in progress' in Setup > Deployment Settings, or "
            "abort those jobs and set verify.recreate_missing_jobs: true so verification re-schedules the runbook's "
            "scheduled_jobs (in production it does not unless told to)"
        )
    if result.tests:
        reasons += [w for w in result.tests.coverage_warnings[:1] if not reasons]
    if not reasons and result.error_message:
        reasons.append(result.error_message)
    return reasons


# ------------------------------------------------------------------------------------------------------------- step
class Validate:
    """Detachable (`cutover.engine.overlap`): `submit` starts the validation and records its job id, `reattach`
    judges it, `cancel` cancels it when the run stops before it is joined; `run` is submit + judge."""

    idempotent = True  # check-only: running it again only costs time; reattach avoids even that

    def __init__(self, params: dict[str, Any], runbook: Any, services: Any) -> None:
        self.params = params
        self.runbook = runbook
        self.services = services
        self.alias = services.target_org or runbook.target.alias
        self.min_coverage = float(params.get("apex_coverage", runbook.thresholds.apex_coverage))
        self.pass_rate = float(params.get("test_pass_rate", runbook.thresholds.test_pass_rate))
        self.timeout_s = float(runbook.sf.wait_minutes) * 60
        self.interval_s = float(params.get("poll_interval_s", POLL_INTERVAL_S))

    def run(self, ctx: StepContext) -> StepOutcome:
        with sf_session(ctx, self.services, self.runbook) as sf:
            job_id = self._submit(ctx, sf)
            if not job_id:
                return StepOutcome.failed("sf accepted the validation but returned no job id")
            return self._judge(ctx, sf, job_id)

    def submit(self, ctx: StepContext) -> None:
        """Start the validation and record its job id; the engine joins it later (`reattach`)."""
        with sf_session(ctx, self.services, self.runbook) as sf:
            self._submit(ctx, sf)

    def _submit(self, ctx: StepContext, sf: SfCli) -> str | None:
        project = Path(ctx.project_dir)
        selection = release_selection(ctx, self.runbook)
        # Named tests (relevant tests) decide the level; else the plan's level (the runbook's sf.test_level).
        test_level = selection.test_level if selection.tests else self.params.get("test_level") or selection.test_level
        manifest_path = selection.manifest
        source_dirs = selection.source_dirs or None
        with tempfile.TemporaryDirectory() as tmp:
            if manifest_path is None and selection.destructive:
                # sf deletes only together with --manifest: list the package directories in one (as the plan says).
                manifest_path = sf.generate_manifest(source_dirs=source_dirs, output_dir=tmp, cwd=project)
            ctx.progress.update(f"submitting the validation ({test_level}) to {self.alias}: {selection.summary}")
            queued = sf.deploy_start(
                self.alias,
                manifest=manifest_path,
                source_dirs=None if manifest_path else source_dirs,
                # The deletions travel with the validated job, so the quick deploy of that job performs them too.
                pre_destructive=selection.pre_destructive,
                post_destructive=selection.post_destructive,
                dry_run=True,
                test_level=test_level,
                tests=list(selection.tests) if test_level == "RunSpecifiedTests" else None,
                async_=True,
                cwd=project,
            )
        if queued.id:
            ctx.set_external_id("validation_id", queued.id)
        return queued.id or None

    def reattach(self, ctx: StepContext, external_ids: dict[str, Any]) -> StepOutcome:
        job_id = external_ids.get("validation_id")
        if not job_id:
            return self.run(ctx)
        ctx.event("validation.reattached", job_id=job_id)
        with sf_session(ctx, self.services, self.runbook) as sf:
            return self._judge(ctx, sf, str(job_id))

    def cancel(self, ctx: StepContext, external_ids: dict[str, Any]) -> str | None:
        """The run stopped before the validation was joined: cancel it. A validation that already finished cannot
        be cancelled, and needs not be (it changed nothing): that is said, not raised."""
        job_id = external_ids.get("validation_id")
        if not job_id:
            return "nothing to cancel (no validation job)"
        with sf_session(ctx, self.services, self.runbook) as sf:
            try:
                sf.deploy_cancel(self.alias, str(job_id))
            except SfError as exc:
                if exc.name == "CannotCancelDeployError" or "already completed" in exc.message:
                    ctx.event("validation.finished_before_cancel", job_id=job_id)
                    return f"validation {job_id} had already finished (it changed nothing)"
                ctx.event("validation.cancel_failed", job_id=job_id, error=exc.message)
                raise
        ctx.event("validation.cancelled", job_id=job_id)
        return None

    def _judge(self, ctx: StepContext, sf: SfCli, job_id: str) -> StepOutcome:
        report = wait_for_deploy(
            ctx, sf, self.alias, job_id, label="validation", timeout_s=self.timeout_s, interval_s=self.interval_s
        )
        record_report(ctx, sf, "validation-result.json")
        criteria = validation_criteria(report, min_coverage=self.min_coverage, pass_rate=self.pass_rate)
        ctx.record_evidence("validation-criteria.json", {"job_id": job_id, "criteria": [asdict(c) for c in criteria]})
        ctx.record_evidence("validation-criteria.md", f"Validation {job_id}\n\n" + criteria_table(criteria))
        summary = summary_line(report, min_coverage=self.min_coverage)
        data = {"validation_id": job_id, "criteria": {c.name: c.ok for c in criteria}}
        refusal = validation_refusal(ctx, self.runbook, report.coverage)  # RunSpecifiedTests: 75 % per class
        if refusal:
            return StepOutcome.failed(f"validation {job_id}: {refusal}", **data)
        if all(c.ok for c in criteria):
            return StepOutcome.passed(f"{summary} (validation {job_id})", **data)
        unmet = ", ".join(c.name for c in criteria if not c.ok)
        reasons = "; ".join(failure_reasons(report, criteria))
        return StepOutcome.failed(
            f"validation {job_id} does not meet the criteria ({unmet}): {summary}"
            + (f"; {reasons}" if reasons else "")
            + ". Stop: fix in a sandbox, re-test, then `cutover retry validate.dry-run`",
            **data,
        )


@register_action("sf.validate")
def _validate_factory(plan_step: Any, runbook: Any, services: StepServices) -> Validate:
    return Validate(dict(plan_step.params or {}), runbook, services)
