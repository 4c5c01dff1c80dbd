"""The read-only verification queries: ApexLog failures since the deploy (seed 3.3) and permission set
assignments (Appendix A)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cutover.engine import StepContext, StepOutcome, StepStatus
from cutover.steps.verify_batch import QueryBatch, query_rows
from cutover.steps.verify_common import SfFactory, _table

if TYPE_CHECKING:
    pass

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
    batch: QueryBatch | None = None  # the run's batched queries (verify_batch.py)

    def query_for(self, ctx: StepContext) -> tuple[str, DeployMoment]:
        moment = deploy_moment(ctx)
        if moment is None:
            run = ctx.store.get_run(ctx.run_id)
            created = parse_time(run.created if run else None) or datetime.now(UTC)
            moment = DeployMoment(created, "run start (this run has no finished deploy step)")
        return since_deploy_query(self.seed_query, moment.at), moment

    def run(self, ctx: StepContext) -> StepOutcome:
        query, moment = self.query_for(ctx)
        since_text = f"{soql_datetime(moment.at)} ({moment.source})"
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
            rows = query_rows(self.batch, ctx, sf, self.alias, query)
        verdict = judge_logs(rows, self.max_failures, since_text)
        ctx.record_evidence("apex-log-failures.txt", verdict.table)
        data = {"failures": len(rows), "since": soql_datetime(moment.at)}
        return StepOutcome.passed(verdict.detail, **data) if verdict.ok else StepOutcome.failed(verdict.detail, **data)


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
    batch: QueryBatch | None = None  # the run's batched queries (verify_batch.py)

    def run(self, ctx: StepContext) -> StepOutcome:
        with self.make_sf(ctx) as sf:
            rows = query_rows(self.batch, ctx, sf, self.alias, self.query)
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
