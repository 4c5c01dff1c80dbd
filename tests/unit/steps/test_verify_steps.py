"""Verify-stage decisions over recorded `sf` shapes (tests/fixtures/sf) and a scripted SfCli stand-in."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cutover.engine import Engine, StepContext, StepSpec, StepStatus
from cutover.engine.store import utc_now
from cutover.sf import TestsFailed
from cutover.sf.results import QueryResult, parse_query_result, parse_test_run
from cutover.steps._sf import _Binding
from cutover.steps.verify import (
    JobSpec,
    VerifyJobsStep,
    VerifyLogsStep,
    VerifyPermissionSetsStep,
    VerifyTestsStep,
    apex_log_query,
    deploy_moment,
    job_query,
    judge_jobs,
    judge_tests,
    recreate_default,
    recreate_script,
    since_deploy_query,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sf"
NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


@dataclass
class FakeSf:
    """The SfCli methods the verify/rollback steps call, answering from scripts; every call is logged."""

    queries: list[Callable[[str], list[dict[str, Any]]]] = field(default_factory=list)
    test_run: Any = None
    deploys: list[Any] = field(default_factory=list)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
    _cutover_binding: _Binding = field(default_factory=_Binding)

    def data_query(self, alias: str, soql: str, **_: Any) -> QueryResult:
        self.calls.append(("query", soql))
        answer = self.queries.pop(0) if len(self.queries) > 1 else self.queries[0]
        return parse_query_result({"records": answer(soql), "done": True})

    def apex_run_test(self, alias: str, **kwargs: Any) -> Any:
        self.calls.append(("apex_run_test", kwargs))
        if self.test_run.failed:
            raise TestsFailed("tests failed", run=self.test_run)
        return self.test_run

    def apex_run(self, alias: str, file: Any) -> Any:
        self.scripts.append(Path(file).read_text())
        self.calls.append(("apex_run", Path(file).name))
        return type("Anon", (), {"success": True})()

    def deploy_start(self, alias: str, **kwargs: Any) -> Any:
        self.calls.append(("deploy_start", kwargs))
        return self.deploys[0]

    def deploy_report(self, alias: str, job_id: str, **_: Any) -> Any:
        self.calls.append(("deploy_report", job_id))
        return self.deploys[-1]


def session_of(fake: FakeSf) -> Callable[[StepContext], Any]:
    @contextmanager
    def open_session(ctx: StepContext) -> Iterator[FakeSf]:
        fake._cutover_binding.ctx = ctx
        yield fake

    return open_session


def make_ctx(engine: Engine, step_id: str, *, stages: dict[str, str] | None = None) -> StepContext:
    """A run with a passed deploy step and the step under test; returns the latter's context."""
    stages = stages or {"deploy.quick": "deploy", step_id: step_id.split(".")[0]}
    run = engine.create_run("prod", [StepSpec(id=i, stage=s, title=i, action="test") for i, s in stages.items()])
    return StepContext(store=engine.store, record=engine.store.step(run.id, step_id), project_dir=engine.project_dir)


def finish_step(engine: Engine, run_id: str, step_id: str, *, started: str, data: dict[str, Any] | None = None) -> None:
    with engine.store.transaction() as tx:
        engine.store.update_step(tx, run_id, step_id, status=StepStatus.PASSED, started=started, finished=utc_now())
        tx.append_event(run_id, "step.finished", step_id, {"status": "passed", "data": data or {}})


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(tmp_path)
    yield eng
    eng.close()


def evidence_text(ctx: StepContext, name: str) -> str:
    item = next(e for e in ctx.store.evidence(ctx.run_id, ctx.step.id) if e["name"] == name)
    return (ctx.store.cutover_dir / item["relpath"]).read_text()


# -- 3.2 tests and coverage --------------------------------------------------------------------------------------------
def test_passing_run_passes_only_when_coverage_reaches_the_threshold() -> None:
    run = parse_test_run(fixture("apex_test_passed_coverage.json")["result"])
    assert judge_tests(run, 85).ok
    low = judge_tests(run, 90)
    assert not low.ok and "org-wide coverage 87% is below 90%" in low.detail


def test_failed_run_names_the_failing_test_and_message() -> None:
    run = parse_test_run(fixture("apex_test_failed.json")["result"])
    verdict = judge_tests(run, 75)
    assert not verdict.ok
    assert "ElaroLoggerTest.logsErrors" in verdict.detail and "AssertException" in verdict.detail
    assert "ElaroLoggerTest.logsErrors" in verdict.table and "Fail" in verdict.table


def test_verify_tests_step_fails_on_test_failure_with_table_evidence(engine: Engine) -> None:
    ctx = make_ctx(engine, "verify.apex-tests")
    fake = FakeSf(test_run=parse_test_run(fixture("apex_test_failed.json")["result"]))
    step = VerifyTestsStep(alias="prod", make_sf=session_of(fake), threshold=85)
    outcome = step.run(ctx)
    assert outcome.status == StepStatus.FAILED
    assert "1 of 3 test(s) failed" in outcome.detail and "below 85%" in outcome.detail
    assert fake.calls[0][1]["test_level"] == "RunLocalTests" and fake.calls[0][1]["code_coverage"] is True
    assert "Org-wide coverage: 81%" in evidence_text(ctx, "apex-tests.txt")


# -- 3.3 ApexLog failures since the deploy -----------------------------------------------------------------------------
def test_log_query_counts_non_success_since_a_moment_not_today() -> None:
    query = apex_log_query(datetime(2026, 11, 27, 17, 2, 3, 900000, tzinfo=UTC))
    assert "StartTime >= 2026-11-27T17:02:03Z" in query  # floored to the second
    assert "Status != 'Success'" in query
    assert "TODAY" not in query and "'Failure'" not in query


SEED_LOG_QUERY = (
    "SELECT Id, Request, Operation, Status, DurationMilliseconds FROM ApexLog "
    "WHERE Status = 'Failure' AND CreatedDate = TODAY ORDER BY CreatedDate DESC LIMIT 10"
)
SINCE = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)


def test_the_runbooks_log_query_is_narrowed_to_the_deploy_and_fixed_for_apexlog() -> None:
    seed = since_deploy_query(SEED_LOG_QUERY, SINCE)
    assert seed == (
        "SELECT Id, Request, Operation, Status, DurationMilliseconds FROM ApexLog WHERE Status != 'Success' "
        "AND StartTime >= 2026-11-27T17:00:00Z ORDER BY StartTime DESC LIMIT 10"
    )
    template = "SELECT Id FROM ApexLog WHERE Status != 'Success' AND StartTime = TODAY LIMIT 10"
    assert "AND StartTime >= 2026-11-27T17:00:00Z LIMIT 10" in since_deploy_query(template, SINCE)
    either = since_deploy_query("SELECT Id FROM ApexLog WHERE Operation = 'a' OR Operation = 'b' LIMIT 5", SINCE)
    assert either.endswith(
        "WHERE StartTime >= 2026-11-27T17:00:00Z AND Status != 'Success' AND (Operation = 'a' OR Operation = 'b') "
        "LIMIT 5"
    )
    bare = since_deploy_query("SELECT Id FROM ApexLog ORDER BY StartTime", SINCE)
    assert bare == "SELECT Id FROM ApexLog WHERE StartTime >= 2026-11-27T17:00:00Z AND Status != 'Success' " + (
        "ORDER BY StartTime"
    )
    assert since_deploy_query(None, SINCE) == apex_log_query(SINCE)
    assert since_deploy_query("SELECT Id FROM Account", SINCE) == apex_log_query(SINCE)


def test_deploy_moment_prefers_the_orgs_completed_date_then_the_step_start(engine: Engine) -> None:
    ctx = make_ctx(engine, "verify.apex-logs")
    assert deploy_moment(ctx) is None  # deploy not finished yet
    finish_step(engine, ctx.run_id, "deploy.quick", started="2026-11-27T17:00:00.000000Z")
    assert deploy_moment(ctx).at == datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
    deploy_ctx = StepContext(
        store=engine.store, record=engine.store.step(ctx.run_id, "deploy.quick"), project_dir=engine.project_dir
    )
    deploy_ctx.record_evidence(
        "deploy-result.json", {"envelope": {"result": {"completedDate": "2026-11-27T17:04:05.000Z"}}}
    )
    moment = deploy_moment(ctx)
    assert moment.at == datetime(2026, 11, 27, 17, 4, 5, tzinfo=UTC) and "completedDate" in moment.source


def test_verify_logs_fails_listing_operation_request_status(engine: Engine) -> None:
    ctx = make_ctx(engine, "verify.apex-logs")
    finish_step(engine, ctx.run_id, "deploy.quick", started="2026-11-27T17:00:00.000000Z")
    rows = [
        {"Operation": "ElaroAuditTrailPoller", "Request": "Application", "Status": "System.LimitException: Too many"},
        {"Operation": "/aura", "Request": "Api", "Status": "System.NullPointerException"},
    ]
    fake = FakeSf(queries=[lambda soql: rows])
    outcome = VerifyLogsStep(alias="prod", make_sf=session_of(fake), seed_query=SEED_LOG_QUERY).run(ctx)
    assert outcome.status == StepStatus.FAILED
    assert "2 failed transaction(s)" in outcome.detail
    assert "ElaroAuditTrailPoller (Application): System.LimitException" in outcome.detail
    assert "StartTime >= 2026-11-27T17:00:00Z" in fake.calls[0][1] and "TODAY" not in fake.calls[0][1]
    assert "runbook_query" in evidence_text(ctx, "apex-log-query.json")
    assert VerifyLogsStep(alias="prod", make_sf=session_of(FakeSf(queries=[lambda s: []]))).run(ctx).status == (
        StepStatus.PASSED
    )


# -- scheduled jobs ----------------------------------------------------------------------------------------------------
JOBS = (
    JobSpec("ElaroAuditTrailPoller", "ElaroAuditTrailPoller", ("0 0 * * * ?", "0 15 * * * ?")),
    JobSpec("RetentionEnforcementScheduler", "RetentionEnforcementScheduler", ("0 0 2 * * ?",)),
)


def trigger(name: str, state: str = "WAITING", next_fire: datetime | None = NOW + timedelta(hours=1)) -> dict:
    return {
        "Id": f"08e{abs(hash(name)) % 10**12:012d}",
        "CronJobDetail": {"Name": name},
        "State": state,
        "NextFireTime": next_fire.strftime("%Y-%m-%dT%H:%M:%S.000+0000") if next_fire else None,
    }


def test_jobs_are_queried_by_their_own_names_not_an_elaro_prefix() -> None:
    query = job_query(JOBS)
    assert "LIKE 'RetentionEnforcementScheduler%'" in query and "'Elaro%'" not in query


def test_judge_jobs_finds_missing_wrong_state_stale_and_ignores_longer_names() -> None:
    rows = [
        trigger("ElaroAuditTrailPoller :00"),
        trigger("ElaroAuditTrailPoller :15", next_fire=NOW - timedelta(minutes=1)),
        trigger("RetentionEnforcementSchedulerV2"),  # another job: does not count for RetentionEnforcementScheduler
    ]
    verdict = judge_jobs(JOBS, rows, NOW)
    assert not verdict.ok
    described = verdict.describe()
    assert "ElaroAuditTrailPoller :15 has no NextFireTime in the future" in described
    assert "RetentionEnforcementScheduler missing" in described
    assert judge_jobs(JOBS, [trigger("ElaroAuditTrailPoller"), trigger("RetentionEnforcementScheduler")], NOW).ok
    paused = judge_jobs(JOBS[1:], [trigger("RetentionEnforcementScheduler", state="PAUSED")], NOW)
    assert "is PAUSED, expected WAITING" in paused.describe() and paused.problems[0].bad_trigger_ids


def test_recreate_script_aborts_broken_triggers_and_schedules_every_cron() -> None:
    verdict = judge_jobs(JOBS, [trigger("RetentionEnforcementScheduler", state="ERROR")], NOW)
    script = recreate_script(verdict.problems)
    assert "System.schedule('ElaroAuditTrailPoller :00', '0 0 * * * ?', new ElaroAuditTrailPoller());" in script
    assert "System.schedule('ElaroAuditTrailPoller :15', '0 15 * * * ?', new ElaroAuditTrailPoller());" in script
    assert "System.abortJob('08e" in script
    assert "new RetentionEnforcementScheduler());" in script


def test_verify_jobs_fails_naming_missing_jobs_without_recreate(engine: Engine) -> None:
    ctx = make_ctx(engine, "verify.scheduled-jobs")
    fake = FakeSf(queries=[lambda soql: [trigger("ElaroAuditTrailPoller")]])
    step = VerifyJobsStep(alias="prod", make_sf=session_of(fake), jobs=JOBS, recreate=False, clock=lambda: NOW)
    outcome = step.run(ctx)
    assert outcome.status == StepStatus.FAILED and "RetentionEnforcementScheduler missing" in outcome.detail
    assert not fake.scripts


def test_verify_jobs_recreates_with_apex_run_and_checks_again(engine: Engine) -> None:
    ctx = make_ctx(engine, "verify.scheduled-jobs")
    before = [trigger("ElaroAuditTrailPoller")]
    after = [*before, trigger("RetentionEnforcementScheduler")]
    fake = FakeSf(queries=[lambda soql: before, lambda soql: after])
    step = VerifyJobsStep(alias="prod", make_sf=session_of(fake), jobs=JOBS, recreate=True, clock=lambda: NOW)
    outcome = step.run(ctx)
    assert outcome.status == StepStatus.PASSED, outcome.detail
    assert "re-created RetentionEnforcementScheduler" in outcome.detail
    assert fake.scripts == [
        "// Written by cutover: re-create scheduled jobs that are missing or not WAITING.\n"
        "System.schedule('RetentionEnforcementScheduler', '0 0 2 * * ?', new RetentionEnforcementScheduler());\n"
    ]
    names = {e["name"] for e in ctx.store.evidence(ctx.run_id, ctx.step.id)}
    assert {"schedule-jobs.apex", "scheduled-jobs.txt", "scheduled-jobs-after-recreate.txt"} <= names


def test_verify_jobs_fails_when_recreation_did_not_help(engine: Engine) -> None:
    ctx = make_ctx(engine, "verify.scheduled-jobs")
    fake = FakeSf(queries=[lambda soql: []])
    step = VerifyJobsStep(alias="prod", make_sf=session_of(fake), jobs=JOBS, recreate=True, clock=lambda: NOW)
    outcome = step.run(ctx)
    assert outcome.status == StepStatus.FAILED and "still wrong after re-creating" in outcome.detail


def test_recreate_is_on_for_rehearsal_orgs_unless_the_runbook_says_otherwise() -> None:
    def runbook(production: bool, configured: bool | None) -> Any:
        return type(
            "R",
            (),
            {
                "target": type("T", (), {"production": production})(),
                "verify": type("V", (), {"recreate_missing_jobs": configured})(),
            },
        )()

    assert recreate_default(runbook(False, None)) is True
    assert recreate_default(runbook(True, None)) is False
    assert recreate_default(runbook(True, True)) is True
    assert recreate_default(runbook(False, False)) is False


# -- Appendix A --------------------------------------------------------------------------------------------------------
def test_permission_sets_need_the_minimum_number_of_assignments(engine: Engine) -> None:
    ctx = make_ctx(engine, "verify.permission-sets")
    rows = [{"Assignee": {"Name": "Release Manager"}, "PermissionSet": {"Name": "Elaro_Admin"}}]
    ok = VerifyPermissionSetsStep("prod", session_of(FakeSf(queries=[lambda s: rows])), "SELECT ...", 1).run(ctx)
    assert ok.status == StepStatus.PASSED and "Elaro_Admin" in ok.detail
    missing = VerifyPermissionSetsStep("prod", session_of(FakeSf(queries=[lambda s: []])), "SELECT ...", 1).run(ctx)
    assert missing.status == StepStatus.FAILED and "0 permission set assignment(s), at least 1" in missing.detail
