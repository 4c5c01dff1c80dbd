"""`sf.verify_jobs`: the runbook's scheduled jobs are WAITING with a future NextFireTime; re-created when allowed."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cutover.engine import StepContext, StepOutcome
from cutover.steps._params import as_text, as_texts
from cutover.steps.verify_batch import QueryBatch, query_rows
from cutover.steps.verify_common import SfFactory, _table
from cutover.steps.verify_queries import parse_time

if TYPE_CHECKING:
    from cutover.sf import SfCli

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
    batch: QueryBatch | None = None  # the run's batched queries (verify_batch.py)

    def query_for(self, ctx: StepContext) -> str | None:
        jobs, _gone = self._jobs(ctx)
        return job_query(jobs) if jobs else None

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
        verdict = judge_jobs(jobs, query_rows(self.batch, ctx, sf, self.alias, query), self.clock())
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
