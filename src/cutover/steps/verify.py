"""The verify stage (seed "Step 3: Post-Deployment Verification", "Scheduled Jobs Verification", Appendix A).

Four automated checks against the org, each a plain decision function over typed `sf` results (unit-tested with
recorded shapes) wrapped in a small Step:

- `sf.verify_tests`: `sf apex run test --test-level RunLocalTests --code-coverage --wait N`; every test passes and
  the org-wide coverage (ApexOrgWideCoverage, as the CLI reports it) is at least `thresholds.apex_coverage`.
- `sf.verify_logs`: ApexLog rows that did not end in Success, *since the deploy finished*. The seed's query
  (`Status = 'Failure' AND CreatedDate = TODAY`) is not used as is: `CreatedDate = TODAY` also counts failures from
  earlier that day (a poller that failed yesterday evening, UTC), which says nothing about the release, and ApexLog
  has no `Failure` status at all — a failed transaction carries its error text in `Status` ("Success" otherwise).
  The deploy time is the org's `completedDate` from the deploy step's recorded `deploy report` (else the step's
  start). The check runs once, right after the deploy; watching for the seed's "first 30 minutes" and the next 24
  hours is the monitoring stage's job.
- `sf.verify_jobs`: for every runbook scheduled job, a CronTrigger named after it in state WAITING with a
  NextFireTime in the future. The query names each job (a common name prefix would miss the jobs that do not
  share it). Missing or broken jobs fail the step, unless re-creation is on (default
  for rehearsal orgs; `verify.recreate_missing_jobs` in the runbook; always on for the rollback's job step): then
  they are re-created with `sf apex run` (`System.schedule(...)`) as a separate, evidenced action and checked again.
- `sf.verify_permission_sets`: the runbook's PermissionSetAssignment query returns at least the minimum.

Every `sf` call is recorded as evidence by `step_sf()` (the envelope, redacted).

The steps live in `verify_tests.py`, `verify_queries.py` (ApexLog, permission sets), `verify_jobs.py` and
`verify_common.py`; this module registers them and re-exports their names (`from cutover.steps.verify import ...`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from cutover.steps._params import as_float, as_int, as_records, as_text, params_of
from cutover.steps.registry import StepServices, register_action
from cutover.steps.verify_batch import batch_for
from cutover.steps.verify_common import (
    SfFactory,
    _pct,
    _table,
    _wait_minutes,
    step_sf,
)
from cutover.steps.verify_jobs import (
    JobProblem,
    JobSpec,
    JobsVerdict,
    VerifyJobsStep,
    _apex_string,
    _soql_quote,
    _trigger_name,
    job_query,
    judge_jobs,
    recreate_jobs,
    recreate_script,
)
from cutover.steps.verify_queries import (
    APEX_LOG_FIELDS,
    DeployMoment,
    LogsVerdict,
    VerifyLogsStep,
    VerifyPermissionSetsStep,
    _nested,
    apex_log_query,
    deploy_moment,
    judge_logs,
    parse_time,
    since_deploy_query,
    soql_datetime,
)
from cutover.steps.verify_tests import (
    TestsVerdict,
    VerifyTestsStep,
    judge_tests,
)

if TYPE_CHECKING:
    from cutover.engine import StepContext
    from cutover.runbook.models import Runbook
    from cutover.runbook.plan import PlanStep

# ---------------------------------------------------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------------------------------------------------


@register_action("sf.verify_tests")
def _verify_tests(plan_step: PlanStep, runbook: Runbook, services: StepServices) -> VerifyTestsStep:
    params = params_of(plan_step)
    return VerifyTestsStep(
        alias=services.target_org,
        make_sf=step_sf(runbook, services),
        test_level=str(params.get("test_level") or "RunLocalTests"),
        threshold=as_float(params.get("apex_coverage", runbook.thresholds.apex_coverage)),
        wait_minutes=_wait_minutes(runbook),
        named_tests=_named_tests(runbook) if plan_step.stage == "verify" else None,
    )


def _named_tests(runbook: Runbook) -> Callable[[StepContext], tuple[str, ...]] | None:
    """The release's named tests (`sf.relevant_tests`), as the validation ran them (`steps._selection`)."""
    if not getattr(getattr(runbook, "sf", None), "relevant_tests", False):
        return None

    def tests(ctx: StepContext) -> tuple[str, ...]:
        from cutover.steps._selection import release_selection

        return tuple(release_selection(ctx, runbook).tests)

    return tests


@register_action("sf.verify_logs")
def _verify_logs(plan_step: PlanStep, runbook: Runbook, services: StepServices) -> VerifyLogsStep:
    params = params_of(plan_step)
    step = VerifyLogsStep(
        alias=services.target_org,
        make_sf=step_sf(runbook, services),
        max_failures=as_int(params.get("max_failure_logs") or 0),
        seed_query=as_text(params.get("query")),
    )
    if plan_step.stage == "verify":
        step.batch = batch_for(services, runbook, plan_step.id, lambda ctx: step.query_for(ctx)[0])
    return step


def job_params(raw: object, runbook: Runbook) -> list[Mapping[str, object]]:
    """The jobs a plan step lists (its `jobs` param), else the runbook's `scheduled_jobs`, as `JobSpec.from_params`
    reads them."""
    if raw is None:
        return [job.model_dump(by_alias=True) for job in getattr(runbook, "scheduled_jobs", None) or ()]
    return as_records(raw)


def recreate_default(runbook: Runbook) -> bool:
    """Re-create missing jobs during verification? The runbook says so, else yes for rehearsal (non-production)
    orgs only: in production an operator decides, because a job the release removed on purpose must stay removed."""
    configured = getattr(getattr(runbook, "verify", None), "recreate_missing_jobs", None)
    if configured is not None:
        return bool(configured)
    return not bool(getattr(getattr(runbook, "target", None), "production", True))


@register_action("sf.verify_jobs")
def _verify_jobs(plan_step: PlanStep, runbook: Runbook, services: StepServices) -> VerifyJobsStep:
    params = params_of(plan_step)
    raw_jobs = job_params(params.get("jobs"), runbook)
    recreate = params.get("recreate")
    step = VerifyJobsStep(
        alias=services.target_org,
        make_sf=step_sf(runbook, services),
        jobs=tuple(JobSpec.from_params(j) for j in raw_jobs),
        recreate=recreate_default(runbook) if recreate is None else bool(recreate),
        skip_jobs_of_removed_classes=getattr(plan_step, "stage", None) == "rollback",
    )
    if plan_step.stage == "verify":
        step.batch = batch_for(services, runbook, plan_step.id, step.query_for)
    return step


@register_action("sf.verify_permission_sets")
def _verify_permission_sets(plan_step: PlanStep, runbook: Runbook, services: StepServices) -> VerifyPermissionSetsStep:
    params = params_of(plan_step)
    step = VerifyPermissionSetsStep(
        alias=services.target_org,
        make_sf=step_sf(runbook, services),
        query=_permission_set_query(params, runbook),
        minimum=as_int(params.get("minimum", 1)),
    )
    if plan_step.stage == "verify":
        step.batch = batch_for(services, runbook, plan_step.id, lambda _ctx: step.query)
    return step


def _permission_set_query(params: Mapping[str, object], runbook: Runbook) -> str:
    query = params.get("query") or runbook.verify.permission_set_query
    if not query:
        from cutover.errors import UsageError

        raise UsageError("verify.permission_set_query is not set: the permission-set assignment check has no query")
    return str(query)


__all__ = [
    "APEX_LOG_FIELDS",
    "DeployMoment",
    "JobProblem",
    "JobSpec",
    "JobsVerdict",
    "LogsVerdict",
    "SfFactory",
    "TestsVerdict",
    "VerifyJobsStep",
    "VerifyLogsStep",
    "VerifyPermissionSetsStep",
    "VerifyTestsStep",
    "_apex_string",
    "_nested",
    "_pct",
    "_soql_quote",
    "_table",
    "_trigger_name",
    "_wait_minutes",
    "apex_log_query",
    "deploy_moment",
    "job_params",
    "job_query",
    "judge_jobs",
    "judge_logs",
    "judge_tests",
    "parse_time",
    "recreate_default",
    "recreate_jobs",
    "recreate_script",
    "since_deploy_query",
    "soql_datetime",
    "step_sf",
]
