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
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from cutover.engine import StepContext, StepOutcome, StepStatus
from cutover.steps._params import as_float, as_int, as_records, as_text, as_texts, params_of
from cutover.steps.registry import StepServices, register_action

if TYPE_CHECKING:
    from cutover.runbook.models import Runbook
    from cutover.runbook.plan import PlanStep
    from cutover.sf import SfCli, TestRunResult

# ---------------------------------------------------------------------------------------------------------------------
# sf with evidence
# ---------------------------------------------------------------------------------------------------------------------

#: Opens the run's SfCli bound to a step context (every call becomes evidence of that step): `with make_sf(ctx) as sf`.
#: Tests put their own under `services.extras["sf_session"]` (yielding a fake with the SfCli methods they use).
SfFactory = Callable[[StepContext], AbstractContextManager["SfCli"]]


def step_sf(runbook: Runbook, services: StepServices) -> SfFactory:
    """The shared, evidence-recording SfCli of the run (`cutover.steps._sf`), one session per step execution."""
    custom = services.extras.get("sf_session")
    if custom is not None:
        return cast(SfFactory, custom)

    def make(ctx: StepContext) -> AbstractContextManager[SfCli]:
        from cutover.steps._sf import sf_session

        return sf_session(ctx, services, runbook)

    return make


def _wait_minutes(runbook: Runbook) -> int:
    return int(getattr(getattr(runbook, "sf", None), "wait_minutes", 33) or 33)


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A fixed-width text table for evidence files (readable in a release record without tooling)."""
    body = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in body)]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in body]
    return "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "unknown" if value is None else f"{value:g}%"


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
    alias: str
    make_sf: SfFactory
    test_level: str = "RunLocalTests"
    threshold: float = 85.0
    wait_minutes: int = 33
    idempotent: bool = True  # running the tests again has no side effect on the org

    def run(self, ctx: StepContext) -> StepOutcome:
        from cutover.sf import StillRunning, TestsFailed

        try:
            with self.make_sf(ctx) as sf:
                run = sf.apex_run_test(
                    self.alias, test_level=self.test_level, code_coverage=True, wait=self.wait_minutes
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

    def reattach(self, ctx: StepContext, external_ids: Mapping[str, Any]) -> StepOutcome:
        """Collect an earlier run's results instead of starting the tests again."""
        from cutover.sf import TestsFailed

        try:
            with self.make_sf(ctx) as sf:
                run = sf.apex_get_test(self.alias, str(external_ids["test_run_id"]), code_coverage=True)
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


# ---------------------------------------------------------------------------------------------------------------------
# 3.3 Monitor for errors: ApexLog failures since the deploy finished
# ---------------------------------------------------------------------------------------------------------------------

APEX_LOG_FIELDS = "Id, StartTime, Operation, Request, Status, DurationMilliseconds"
#: Keys under which a deploy step may report the org's own completion time of the deploy (DeployResult.completedDate).
_COMPLETION_KEYS = ("completed_date", "completedDate", "deploy_completed", "completed")


def soql_datetime(moment: datetime) -> str:
    """A SOQL datetime literal, floored to the second (flooring can only include more, never miss a log)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: object) -> datetime | None:
    """Salesforce (`2026-11-27T17:02:03.000+0000`) and engine (`...Z`) timestamps; None if it is not one."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def apex_log_query(since: datetime, limit: int = 200) -> str:
    return (
        f"SELECT {APEX_LOG_FIELDS} FROM ApexLog WHERE StartTime >= {soql_datetime(since)} "
        f"AND Status != 'Success' ORDER BY StartTime DESC LIMIT {limit}"
    )


_DAY_FILTER = re.compile(r"\b(?:CreatedDate|StartTime)\s*=\s*(?:TODAY|YESTERDAY|LAST_N_DAYS:\d+)\b", re.IGNORECASE)
_FAILURE_STATUS = re.compile(r"\bStatus\s*=\s*'Failure'", re.IGNORECASE)
_WHERE = re.compile(r"\bWHERE\b(?P<where>.*?)(?P<tail>\s+(?:GROUP\s+BY|ORDER\s+BY|LIMIT)\b.*)?$", re.I | re.S)


def since_deploy_query(runbook_query: str | None, since: datetime) -> str:
    """The runbook's ApexLog query, narrowed to logs that started at or after `since`.

    A day filter (`CreatedDate = TODAY`, `StartTime = TODAY`, ...) becomes `StartTime >= <since>`; a query without
    one gets it added to its WHERE clause (parenthesised, so an OR in it stays inside). The seed's `Status =
    'Failure'` (a value ApexLog never has) becomes `Status != 'Success'`, which is also added when the query has no
    Status condition; `ORDER BY CreatedDate` (ApexLog has none) becomes `ORDER BY StartTime`. No query, or one
    that is not a `... FROM ApexLog ...` query: the built-in one.
    """
    if not runbook_query or not re.search(r"\bFROM\s+ApexLog\b", runbook_query, re.IGNORECASE):
        return apex_log_query(since)
    literal = f"StartTime >= {soql_datetime(since)}"
    query = _FAILURE_STATUS.sub("Status != 'Success'", " ".join(runbook_query.split()))
    query = re.sub(r"\bORDER BY CreatedDate\b", "ORDER BY StartTime", query, flags=re.IGNORECASE)  # no such field
    if not re.search(r"\bStatus\b\s*(?:!=|<>|=|NOT\b|IN\b|LIKE\b)", query, re.IGNORECASE):
        literal += " AND Status != 'Success'"  # the step counts failures, whatever else the query selects
    if _DAY_FILTER.search(query):
        return _DAY_FILTER.sub(literal, query)
    match = _WHERE.search(query)
    if match is None:
        head, _, tail = query.partition(" ORDER BY ")
        return f"{head} WHERE {literal}" + (f" ORDER BY {tail}" if tail else "")
    where = match.group("where").strip()
    return f"{query[: match.start()]}WHERE {literal} AND ({where}){match.group('tail') or ''}"


@dataclass(frozen=True)
class DeployMoment:
    at: datetime
    source: str  # where the time comes from, said in the evidence and the detail


def deploy_moment(ctx: StepContext) -> DeployMoment | None:
    """When this run's deploy finished: the org's completedDate if the deploy step reported it, else the deploy
    step's start (the org-side completion lies between its start and finish; starting from the earlier time can
    add a failure that happened during the deploy, but never misses one after it, whereas the step's local finish
    is seconds after the org applied the change because the CLI polls)."""
    records = [r for r in ctx.store.steps(ctx.run_id) if r.spec.stage == "deploy" and r.status == StepStatus.PASSED]
    if not records:
        return None
    record = records[-1]
    for source in (*_deploy_results(ctx, record.id), dict(record.external_ids), *_finished_payloads(ctx, record.id)):
        for key in _COMPLETION_KEYS:
            moment = parse_time(source.get(key))
            if moment is not None:
                return DeployMoment(moment, f"{record.id} completedDate")
    started = parse_time(record.started)
    return DeployMoment(started, f"{record.id} start") if started else None


def _deploy_results(ctx: StepContext, step_id: str) -> list[dict[str, object]]:
    """The deploy step's recorded `deploy report` documents (`deploy-result*.json`: {"envelope": {"result": ...}})."""
    import json

    out = []
    for item in reversed(ctx.store.evidence(ctx.run_id, step_id)):
        if str(item["name"]).startswith("deploy-result") and str(item["name"]).endswith(".json"):
            try:
                doc = json.loads((ctx.store.cutover_dir / item["relpath"]).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            result = (doc.get("envelope") or {}).get("result") if isinstance(doc, Mapping) else None
            if isinstance(result, Mapping):
                out.append(dict(result))
    return out


def _finished_payloads(ctx: StepContext, step_id: str) -> list[dict[str, object]]:
    out = []
    for event in reversed(ctx.store.events(ctx.run_id)):
        if event.step_id == step_id and event.type == "step.finished":
            data = event.payload.get("data")
            if isinstance(data, Mapping):
                out.append(dict(data))
    return out


@dataclass(frozen=True)
class LogsVerdict:
    ok: bool
    detail: str
    table: str


def judge_logs(rows: Sequence[Mapping[str, object]], max_failures: int, since_text: str) -> LogsVerdict:
    table = _table(
        ["StartTime", "Operation", "Request", "Status", "ms"],
        [
            (r.get("StartTime"), r.get("Operation"), r.get("Request"), r.get("Status"), r.get("DurationMilliseconds"))
            for r in rows
        ],
    )
    if len(rows) <= max_failures:
        what = "no failed transactions" if not rows else f"{len(rows)} failed transaction(s), allowed {max_failures}"
        return LogsVerdict(True, f"{what} in ApexLog since {since_text}", table)
    listed = "; ".join(f"{r.get('Operation')} ({r.get('Request')}): {str(r.get('Status'))[:90]}" for r in rows[:3])
    more = f" (+{len(rows) - 3} more)" if len(rows) > 3 else ""
    return LogsVerdict(False, f"{len(rows)} failed transaction(s) in ApexLog since {since_text}: {listed}{more}", table)


@dataclass
class VerifyLogsStep:
    alias: str
    make_sf: SfFactory
    max_failures: int = 0
    seed_query: str | None = None
    idempotent: bool = True

    def run(self, ctx: StepContext) -> StepOutcome:
        moment = deploy_moment(ctx)
        if moment is None:
            run = ctx.store.get_run(ctx.run_id)
            created = parse_time(run.created if run else None) or datetime.now(UTC)
            moment = DeployMoment(created, "run start (this run has no finished deploy step)")
        since_text = f"{soql_datetime(moment.at)} ({moment.source})"
        query = since_deploy_query(self.seed_query, moment.at)
        ctx.record_evidence(
            "apex-log-query.json",
            {
                "query": query,
                "runbook_query": self.seed_query,
                "since": soql_datetime(moment.at),
                "since_source": moment.source,
                "why": "a day filter (TODAY) also counts failures from before the deploy; ApexLog.Status holds the "
                "error text of a failed transaction, so failures are Status != 'Success'",
            },
        )
        with self.make_sf(ctx) as sf:
            rows = sf.data_query(self.alias, query).rows()
        verdict = judge_logs(rows, self.max_failures, since_text)
        ctx.record_evidence("apex-log-failures.txt", verdict.table)
        data = {"failures": len(rows), "since": soql_datetime(moment.at)}
        return StepOutcome.passed(verdict.detail, **data) if verdict.ok else StepOutcome.failed(verdict.detail, **data)


# ---------------------------------------------------------------------------------------------------------------------
# Scheduled jobs
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobSpec:
    """A runbook scheduled job: CronJobDetail.Name, the Schedulable class, its cron expressions."""

    name: str
    class_name: str | None
    crons: tuple[str, ...]
    expected_state: str = "WAITING"

    @classmethod
    def from_params(cls, raw: Mapping[str, object]) -> JobSpec:
        return cls(
            name=str(raw["name"]),
            class_name=as_text(raw.get("class") or raw.get("class_name")),
            crons=as_texts(raw.get("crons")),
            expected_state=str(raw.get("expected_state") or "WAITING"),
        )

    def owns(self, trigger_name: str) -> bool:
        """A trigger belongs to this job if it carries its name, or its name plus a suffix (one trigger per cron:
        "AuditPoller :15"), never merely a longer name ("AuditPollerV2")."""
        return trigger_name == self.name or trigger_name.startswith(self.name + " ")

    def schedule_names(self) -> list[tuple[str, str]]:
        """(CronJobDetail name, cron) pairs to schedule: the bare name for one cron, `name :MM` for several."""
        if len(self.crons) == 1:
            return [(self.name, self.crons[0])]
        names = []
        for index, expression in enumerate(self.crons):
            fields = expression.split()
            minute = fields[1] if len(fields) > 1 and fields[1].isdigit() else None
            names.append((f"{self.name} :{int(minute):02d}" if minute else f"{self.name} #{index + 1}", expression))
        if len({n for n, _ in names}) != len(names):
            names = [(f"{self.name} #{i + 1}", c) for i, (_, c) in enumerate(names)]
        return names


def job_query(jobs: Sequence[JobSpec]) -> str:
    """CronTriggers of exactly these jobs (a name, or the name plus a suffix), not of every job sharing a prefix."""
    # A prefix match in SOQL (LIKE has no "followed by a space or nothing"); `JobSpec.owns` then keeps exact owners.
    clauses = [f"CronJobDetail.Name LIKE '{_soql_quote(job.name)}%'" for job in jobs]
    return (
        "SELECT Id, CronJobDetail.Name, CronExpression, State, NextFireTime, PreviousFireTime FROM CronTrigger "
        f"WHERE {' OR '.join(clauses)} ORDER BY NextFireTime"
    )


def _soql_quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _apex_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _trigger_name(row: Mapping[str, object]) -> str:
    detail = row.get("CronJobDetail")
    return str(detail.get("Name") or "") if isinstance(detail, Mapping) else str(row.get("CronJobDetail.Name") or "")


@dataclass(frozen=True)
class JobProblem:
    job: JobSpec
    reason: str  # "missing" or "<name>: state X" / "<name>: no NextFireTime in the future"
    bad_trigger_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobsVerdict:
    problems: tuple[JobProblem, ...]
    table: str
    healthy: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        return "; ".join(f"{p.job.name} {p.reason}" for p in self.problems)


def judge_jobs(jobs: Sequence[JobSpec], rows: Sequence[Mapping[str, object]], now: datetime) -> JobsVerdict:
    """Every job has at least one trigger, and each of its triggers is in the expected state with a NextFireTime
    after `now`."""
    problems: list[JobProblem] = []
    healthy: list[str] = []
    table_rows = []
    for job in jobs:
        mine = [r for r in rows if job.owns(_trigger_name(r))]
        if not mine:
            problems.append(JobProblem(job, "missing (no CronTrigger)"))
            table_rows.append((job.name, "-", "MISSING", "-", "-"))
            continue
        bad: list[str] = []
        reasons: list[str] = []
        for row in mine:
            state = str(row.get("State") or "")
            next_fire = parse_time(row.get("NextFireTime"))
            table_rows.append(
                (
                    _trigger_name(row),
                    row.get("CronExpression"),
                    state,
                    row.get("NextFireTime"),
                    row.get("PreviousFireTime"),
                )
            )
            if state != job.expected_state:
                reasons.append(f"{_trigger_name(row)} is {state or 'without state'}, expected {job.expected_state}")
                bad.append(str(row.get("Id")))
            elif next_fire is None or next_fire <= now:
                reasons.append(f"{_trigger_name(row)} has no NextFireTime in the future")
                bad.append(str(row.get("Id")))
        if reasons:
            problems.append(JobProblem(job, "(" + "; ".join(reasons) + ")", tuple(bad)))
        else:
            healthy.append(job.name)
    table = _table(["Job", "Cron", "State", "NextFireTime", "PreviousFireTime"], table_rows)
    return JobsVerdict(tuple(problems), table, tuple(healthy))


def recreate_script(problems: Sequence[JobProblem]) -> str:
    """Anonymous Apex that aborts a job's broken triggers and schedules it again (all its crons)."""
    lines = ["// Written by cutover: re-create scheduled jobs that are missing or not WAITING."]
    for problem in problems:
        job = problem.job
        if not job.class_name:
            continue
        for trigger_id in problem.bad_trigger_ids:
            lines.append(f"System.abortJob({_apex_string(trigger_id)});")
        for name, expression in job.schedule_names():
            lines.append(f"System.schedule({_apex_string(name)}, {_apex_string(expression)}, new {job.class_name}());")
    return "\n".join(lines) + "\n"


def recreate_jobs(ctx: StepContext, sf: SfCli, alias: str, problems: Sequence[JobProblem], *, why: str) -> list[str]:
    """Re-create jobs with `sf apex run --file` (script and result are evidence); returns the job names."""
    fixable = [p for p in problems if p.job.class_name]
    if not fixable:
        return []
    script = recreate_script(fixable)
    evidence = ctx.record_evidence("schedule-jobs.apex", script)
    names = [p.job.name for p in fixable]
    ctx.event("scheduled_jobs.recreate", jobs=names, reason=why, script=evidence.relpath)
    result = sf.apex_run(alias, evidence.path)
    ctx.event("scheduled_jobs.recreated", jobs=names, success=bool(getattr(result, "success", True)))
    return names


@dataclass
class VerifyJobsStep:
    alias: str
    make_sf: SfFactory
    jobs: Sequence[JobSpec] = field(default_factory=tuple)
    recreate: bool = False
    idempotent: bool = True  # re-creating only ever touches jobs that are missing or broken at that moment
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    #: After a rollback: a job whose class the release added (and the rollback deleted) is expected to be gone.
    skip_jobs_of_removed_classes: bool = False

    def run(self, ctx: StepContext) -> StepOutcome:
        jobs, gone = self._jobs(ctx)
        if not jobs:
            return StepOutcome.skipped("no scheduled jobs to check" + (f" ({gone})" if gone else ""))
        with self.make_sf(ctx) as sf:
            outcome = self._check(ctx, sf, jobs)
        if gone:
            return StepOutcome(outcome.status, f"{outcome.detail}; {gone}", outcome.data)
        return outcome

    def _jobs(self, ctx: StepContext) -> tuple[Sequence[JobSpec], str]:
        if not self.skip_jobs_of_removed_classes:
            return self.jobs, ""
        from cutover.steps.rollback import find_backup

        backup = find_backup(ctx, ctx.run_id, ctx.project_dir)
        removed = {c.name.lower() for c in (backup.added_by_release if backup else ()) if c.type == "ApexClass"}
        gone = [j for j in self.jobs if j.class_name and j.class_name.lower() in removed]
        if not gone:
            return self.jobs, ""
        names = ", ".join(j.name for j in gone)
        return [j for j in self.jobs if j not in gone], f"not checked, their class was added by the release: {names}"

    def _check(self, ctx: StepContext, sf: SfCli, jobs: Sequence[JobSpec]) -> StepOutcome:
        query = job_query(jobs)
        verdict = judge_jobs(jobs, sf.data_query(self.alias, query).rows(), self.clock())
        ctx.record_evidence("scheduled-jobs.txt", verdict.table)
        if verdict.ok:
            return StepOutcome.passed(
                f"{len(jobs)} scheduled job(s) WAITING with a future NextFireTime", jobs=list(verdict.healthy)
            )
        found = verdict.describe()
        if not self.recreate:
            return StepOutcome.failed(
                f"scheduled jobs not running: {found} (re-create them with `sf apex run --file` and "
                "System.schedule, or set verify.recreate_missing_jobs: true)",
                problems=[p.job.name for p in verdict.problems],
            )
        recreated = recreate_jobs(ctx, sf, self.alias, verdict.problems, why=found)
        after = judge_jobs(jobs, sf.data_query(self.alias, query).rows(), self.clock())
        ctx.record_evidence("scheduled-jobs-after-recreate.txt", after.table)
        if not after.ok:
            return StepOutcome.failed(
                f"scheduled jobs not running: {found}; still wrong after re-creating {', '.join(recreated) or 'none'}:"
                f" {after.describe()}",
                problems=[p.job.name for p in after.problems],
                recreated=recreated,
            )
        return StepOutcome.passed(
            f"re-created {', '.join(recreated)} ({found}); all {len(jobs)} job(s) now WAITING",
            recreated=recreated,
        )


# ---------------------------------------------------------------------------------------------------------------------
# Appendix A: permission set assignments
# ---------------------------------------------------------------------------------------------------------------------


def _nested(row: Mapping[str, object], path: str) -> object:
    value: object = row
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


@dataclass
class VerifyPermissionSetsStep:
    alias: str
    make_sf: SfFactory
    query: str
    minimum: int = 1
    idempotent: bool = True

    def run(self, ctx: StepContext) -> StepOutcome:
        with self.make_sf(ctx) as sf:
            rows = sf.data_query(self.alias, self.query).rows()
        table = _table(
            ["Assignee", "Permission set"],
            [(_nested(r, "Assignee.Name"), _nested(r, "PermissionSet.Name")) for r in rows],
        )
        ctx.record_evidence("permission-set-assignments.txt", table)
        sets = sorted({str(_nested(r, "PermissionSet.Name")) for r in rows if _nested(r, "PermissionSet.Name")})
        if len(rows) < self.minimum:
            return StepOutcome.failed(
                f"{len(rows)} permission set assignment(s), at least {self.minimum} expected", assignments=len(rows)
            )
        return StepOutcome.passed(
            f"{len(rows)} permission set assignment(s) ({', '.join(sets) or 'none'})", assignments=len(rows)
        )


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
    )


@register_action("sf.verify_logs")
def _verify_logs(plan_step: PlanStep, runbook: Runbook, services: StepServices) -> VerifyLogsStep:
    params = params_of(plan_step)
    return VerifyLogsStep(
        alias=services.target_org,
        make_sf=step_sf(runbook, services),
        max_failures=as_int(params.get("max_failure_logs") or 0),
        seed_query=as_text(params.get("query")),
    )


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
    return VerifyJobsStep(
        alias=services.target_org,
        make_sf=step_sf(runbook, services),
        jobs=tuple(JobSpec.from_params(j) for j in raw_jobs),
        recreate=recreate_default(runbook) if recreate is None else bool(recreate),
        skip_jobs_of_removed_classes=getattr(plan_step, "stage", None) == "rollback",
    )


@register_action("sf.verify_permission_sets")
def _verify_permission_sets(plan_step: PlanStep, runbook: Runbook, services: StepServices) -> VerifyPermissionSetsStep:
    params = params_of(plan_step)
    return VerifyPermissionSetsStep(
        alias=services.target_org,
        make_sf=step_sf(runbook, services),
        query=_permission_set_query(params, runbook),
        minimum=as_int(params.get("minimum", 1)),
    )


def _permission_set_query(params: Mapping[str, object], runbook: Runbook) -> str:
    query = params.get("query") or runbook.verify.permission_set_query
    if not query:
        from cutover.errors import UsageError

        raise UsageError("verify.permission_set_query is not set: the permission-set assignment check has no query")
    return str(query)
