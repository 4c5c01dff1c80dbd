"""Issue 11: a rollback deploy interrupted before sf answered with its id asks the org (`cutover.steps.interrupted`)
and adopts the one deploy it finds, submits when there is none, refuses to guess otherwise; deploys this run
recorded (the release's quick deploy, the redeploy of the backup) are never taken for the interrupted one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_rollback_steps import JOBS, deploy, rollback_ctx, write_backup
from test_verify_steps import FakeSf, session_of

from cutover.engine import Engine, StepContext, StepStatus
from cutover.sf import OrgInfo, QueryResult, SfCommandFailed
from cutover.steps.rollback import RedeployBackupStep, RemoveAddedStep

QUICK = "0Af00000000QUICKAAA"  # the release's quick deploy (recorded by deploy.quick)
REDEPLOY = "0Af0000000REDEPAAA"  # the rollback's redeploy (recorded by rollback.redeploy-backup)
FOUND = "0Af0000000FOUNDAAA"  # submitted by the interrupted attempt, id never recorded
LIVE_JOB = [{"Id": "08e000000000001AAA", "CronJobDetail": {"Name": "RetentionEnforcementScheduler"}}]


class OrgFake(FakeSf):
    """FakeSf that also answers `sf org display` and the Tooling API DeployRequest question."""

    def __init__(self, org_deploys: list[str], query_error: Exception | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.org_deploys = org_deploys
        self.query_error = query_error

    def org_display(self, alias: str) -> OrgInfo:
        self.calls.append(("org_display", alias))
        return OrgInfo(org_id="00D5g00000ELAROEA5", username="release@elaro.example", instance_url="https://x")

    def data_query(self, alias: str, soql: str, **kwargs: Any) -> QueryResult:
        if "FROM DeployRequest" not in soql:
            return super().data_query(alias, soql, **kwargs)
        self.calls.append(("deploy_requests", soql))
        assert kwargs.get("tooling") is True and "CheckOnly = false" in soql
        if self.query_error is not None:
            raise self.query_error
        rows = tuple({"Id": i, "Status": "InProgress"} for i in self.org_deploys)
        return QueryResult(rows, len(rows), True)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(tmp_path)
    yield eng
    eng.close()


def interrupted(engine: Engine, step_id: str, backup: list[tuple[str, str]], **recorded: Any) -> StepContext:
    """The rollback step `step_id` left running by an interrupt during attempt 1, with `recorded` external ids (of
    this step); the release's quick deploy (and, for remove-added, the redeploy) recorded by their steps."""
    ctx = rollback_ctx(engine, step_id, write_backup(engine.project_dir, backup))
    quick = StepContext(
        store=engine.store, record=engine.store.step(ctx.run_id, "deploy.quick"), project_dir=ctx.project_dir
    )
    quick.set_external_id("deploy_id", QUICK)
    with engine.store.transaction() as tx:
        engine.store.update_step(tx, ctx.run_id, step_id, status=StepStatus.RUNNING, attempt=1)
        tx.append_event(ctx.run_id, "step.started", step_id, {"attempt": 1, "idempotent": False})
        if step_id == "rollback.remove-added":
            tx.append_event(ctx.run_id, "step.external_id", "deploy.quick", {"key": "deploy_id", "value": REDEPLOY})
    for key, value in recorded.items():
        ctx.set_external_id(key, value)
    return StepContext(store=engine.store, record=engine.store.step(ctx.run_id, step_id), project_dir=ctx.project_dir)


def kinds(fake: FakeSf) -> list[str]:
    return [c[0] for c in fake.calls]


def test_both_rollback_deploys_are_not_idempotent_and_can_recover() -> None:
    for cls in (RedeployBackupStep, RemoveAddedStep):
        step = cls("prod", session_of(FakeSf()), Path("."))
        assert step.idempotent is False and callable(step.recover)


def test_redeploy_adopts_the_deploy_the_interrupted_attempt_submitted_and_reschedules_the_aborted_jobs(
    engine: Engine,
) -> None:
    ctx = interrupted(
        engine, "rollback.redeploy-backup", [("ApexClass", "RetentionEnforcementScheduler")],
        aborted_jobs=["RetentionEnforcementScheduler"],
    )  # fmt: skip
    fake = OrgFake([QUICK, FOUND], queries=[lambda soql: []], deploys=[deploy(deploy_id=FOUND)])
    step = RedeployBackupStep("prod", session_of(fake), engine.project_dir, jobs=JOBS)
    outcome = step.reattach(ctx, dict(ctx.external_ids))  # aborted_jobs recorded, no deploy_id: the engine reattaches
    assert outcome.status == StepStatus.PASSED, outcome.detail
    assert "deploy_start" not in kinds(fake)  # never a second redeploy
    assert ("deploy_report", FOUND) in fake.calls
    assert engine.store.step(ctx.run_id, ctx.step.id).external_ids["deploy_id"] == FOUND
    assert len(fake.scripts) == 1 and "System.schedule('RetentionEnforcementScheduler'" in fake.scripts[0]
    assert "deploy.recover_adopted" in [e.type for e in engine.events(ctx.run_id)]


def test_redeploy_submits_when_the_org_holds_only_deploys_the_run_recorded(engine: Engine) -> None:
    ctx = interrupted(engine, "rollback.redeploy-backup", [("ApexClass", "ElaroLogger")])
    fake = OrgFake([QUICK[:15]], queries=[lambda soql: []], deploys=[deploy("Queued"), deploy()])
    outcome = RedeployBackupStep("prod", session_of(fake), engine.project_dir, jobs=JOBS).recover(ctx)
    assert outcome.status == StepStatus.PASSED, outcome.detail
    assert kinds(fake).count("deploy_start") == 1
    assert "deploy.recover_none" in [e.type for e in engine.events(ctx.run_id)]


def test_remove_added_leaves_the_redeploy_out_and_adopts_its_own_deploy(engine: Engine) -> None:
    ctx = interrupted(engine, "rollback.remove-added", [("ApexClass", "ElaroLogger")])
    fake = OrgFake([REDEPLOY, FOUND], queries=[lambda soql: []], deploys=[deploy(deploy_id=FOUND)])
    outcome = RemoveAddedStep("prod", session_of(fake), engine.project_dir).recover(ctx)
    assert outcome.status == StepStatus.PASSED, outcome.detail
    assert "deploy_start" not in kinds(fake) and ("deploy_report", FOUND) in fake.calls
    assert engine.store.step(ctx.run_id, ctx.step.id).external_ids["deploy_id"] == FOUND


@pytest.mark.parametrize(
    ("org_deploys", "error", "expected"),
    [
        ([FOUND, "0Af0000000OTHERAAA"], None, "holds 2 deploys"),
        ([], SfCommandFailed("sObject type 'DeployRequest' is not supported.", name="INVALID_TYPE"), "could not be"),
    ],
)
def test_remove_added_refuses_to_guess_when_the_org_cannot_tell(
    engine: Engine, org_deploys: list[str], error: Exception | None, expected: str
) -> None:
    ctx = interrupted(engine, "rollback.remove-added", [("ApexClass", "ElaroLogger")])
    fake = OrgFake(org_deploys, query_error=error, queries=[lambda soql: []], deploys=[deploy()])
    outcome = RemoveAddedStep("prod", session_of(fake), engine.project_dir).recover(ctx)
    assert outcome.status == StepStatus.FAILED and expected in outcome.detail
    assert "interrupted while submitting the destructive deploy" in outcome.detail
    assert "cutover waive rollback.remove-added" in outcome.detail and "\n" not in outcome.detail
    assert "deploy_start" not in kinds(fake)


class Interrupt(BaseException):
    """What the engine's signal handler raises (a BaseException, like `_Signal`)."""


def test_an_interrupt_during_the_redeploy_leaves_the_jobs_to_the_resume(engine: Engine) -> None:
    """Re-scheduling on the way out of an interrupt and again on resume would fail (the job names are taken)."""
    ctx = interrupted(engine, "rollback.redeploy-backup", [("ApexClass", "RetentionEnforcementScheduler")])

    class Interrupted(OrgFake):
        def deploy_report(self, alias: str, job_id: str, **_: Any) -> Any:
            raise Interrupt

    fake = Interrupted([], queries=[lambda soql: LIVE_JOB], deploys=[deploy("Queued")])
    with pytest.raises(Interrupt):
        RedeployBackupStep("prod", session_of(fake), engine.project_dir, jobs=JOBS).run(ctx)
    assert kinds(fake) == ["query", "apex_run", "deploy_start"]  # aborted, submitted; nothing re-scheduled yet
    recorded = engine.store.step(ctx.run_id, ctx.step.id).external_ids
    assert recorded["aborted_jobs"] == ["RetentionEnforcementScheduler"] and recorded["deploy_id"]
