"""sf.quick_deploy: promotes this run's validated job, records the deploy id before polling, never deploys twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from cutover.engine import Engine, StepContext, StepSpec, StepStatus
from cutover.runbook import parse_runbook
from cutover.sf import SfCommandFailed
from cutover.sf.results import DeployResult, OrgInfo, QueryResult, parse_deploy_result
from cutover.steps._sf import _Binding
from cutover.steps.deploy import QuickDeploy, earlier_deploy_ids, validated_job
from cutover.steps.registry import StepServices

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sf"
VALIDATION_ID = "0Af5g00000ElaVAL1AAA"


def deploy_fixture(name: str) -> DeployResult:
    return parse_deploy_result(json.loads((FIXTURES / name).read_text())["result"])


QUICK_OK = deploy_fixture("deploy_quick_success.json")
QUEUED = replace(deploy_fixture("deploy_async_queued.json"), id=QUICK_OK.id)
FAILED = replace(deploy_fixture("deploy_failed_components.json"), id=QUICK_OK.id)
RUNBOOK = parse_runbook("target:\n  alias: production\n")


@dataclass
class FakeSf:
    reports: list[Any]
    quick_error: Exception | None = None
    org_id: str = "00D5g00000ELAROEA5"
    calls: list[tuple[str, Any]] = field(default_factory=list)
    ids_seen_at_first_report: dict[str, Any] | None = None
    org_deploys: list[dict[str, Any]] = field(default_factory=list)  # what DeployRequest answers
    query_error: Exception | None = None
    _cutover_binding: _Binding = field(default_factory=_Binding)

    def data_query(self, alias: str, soql: str, *, tooling: bool = False, **_: Any) -> QueryResult:
        self.calls.append(("data_query", soql))
        assert tooling and "FROM DeployRequest" in soql and "CheckOnly = false" in soql
        assert "CreatedBy.Username = 'release@elaro.example'" in soql and "CreatedDate >= 20" in soql
        if self.query_error is not None:
            raise self.query_error
        return QueryResult(tuple(self.org_deploys), len(self.org_deploys), True)

    def deploy_quick(self, alias: str, job_id: str, **kwargs: Any) -> DeployResult:
        self.calls.append(("deploy_quick", job_id))
        if self.quick_error is not None:
            raise self.quick_error
        assert kwargs.get("async_") is True
        return QUEUED

    def org_display(self, alias: str) -> OrgInfo:
        self.calls.append(("org_display", alias))
        return OrgInfo(org_id=self.org_id, username="release@elaro.example", instance_url="https://elaro.example")

    def deploy_report(self, alias: str, job_id: str, **_: Any) -> DeployResult:
        self.calls.append(("deploy_report", job_id))
        if self.ids_seen_at_first_report is None:
            ctx = self._cutover_binding.ctx
            assert ctx is not None
            self.ids_seen_at_first_report = dict(ctx.store.step(ctx.run_id, ctx.step.id).external_ids)
        return self.reports.pop(0) if len(self.reports) > 1 else self.reports[0]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(tmp_path)
    yield eng
    eng.close()


def make_ctx(engine: Engine, *, validation: StepStatus | None = StepStatus.PASSED) -> StepContext:
    specs = [StepSpec(id="deploy.quick", stage="deploy", title="deploy", action="sf.quick_deploy")]
    if validation is not None:
        specs.insert(0, StepSpec(id="validate.dry-run", stage="validate", title="v", action="sf.validate"))
    run = engine.create_run("production", specs)
    if validation is not None:
        with engine.store.transaction() as tx:
            engine.store.update_step(
                tx, run.id, "validate.dry-run", status=validation, external_ids={"validation_id": VALIDATION_ID}
            )
    return StepContext(
        store=engine.store, record=engine.store.step(run.id, "deploy.quick"), project_dir=engine.project_dir
    )


def make_step(engine: Engine, fake: FakeSf) -> QuickDeploy:
    services = StepServices(project_dir=engine.project_dir, target_org="production")
    services.extras["sf"] = fake
    step = QuickDeploy({}, RUNBOOK, services)
    step.interval_s = 0
    return step


def test_quick_deploys_the_validated_job_and_records_the_deploy_id_first(engine: Engine) -> None:
    running = replace(QUICK_OK, status="InProgress", done=False)
    fake = FakeSf(reports=[running, QUICK_OK])
    ctx = make_ctx(engine)
    outcome = make_step(engine, fake).run(ctx)
    assert outcome.status == StepStatus.PASSED, outcome.detail
    assert fake.calls[0] == ("deploy_quick", VALIDATION_ID)
    assert fake.ids_seen_at_first_report is not None and fake.ids_seen_at_first_report["deploy_id"] == QUICK_OK.id
    assert outcome.detail.startswith("Succeeded:") and VALIDATION_ID in outcome.detail
    assert earlier_deploy_ids(ctx) == [QUICK_OK.id]


def test_failed_deploy_is_a_blocking_failure_naming_the_component(engine: Engine) -> None:
    outcome = make_step(engine, FakeSf(reports=[FAILED])).run(make_ctx(engine))
    assert outcome.status == StepStatus.FAILED
    assert FAILED.failures[0].name in outcome.detail and "Failed" in outcome.detail


def test_no_passed_validation_means_nothing_is_submitted(engine: Engine) -> None:
    fake = FakeSf(reports=[QUICK_OK])
    outcome = make_step(engine, fake).run(make_ctx(engine, validation=StepStatus.FAILED))
    assert outcome.status == StepStatus.FAILED and "nothing to quick-deploy" in outcome.detail
    assert fake.calls == []
    other = Engine(engine.project_dir / "other")
    try:
        assert validated_job(make_ctx(other, validation=None))[0] is None
    finally:
        other.close()


def test_expired_validation_asks_for_a_new_validation(engine: Engine) -> None:
    # The real CLI's envelope (name CannotQuickDeployError) with orgsim's reason in data.message.
    error = SfCommandFailed(
        "Job ID can't be used for quick deployment. Possible reasons include ...",
        name="CannotQuickDeployError",
        data={"errorCode": "sf:INVALID_ID_FIELD", "message": "INVALID_ID_FIELD: the org changed since the validation"},
    )
    fake = FakeSf(reports=[QUICK_OK], quick_error=error)
    outcome = make_step(engine, fake).run(make_ctx(engine))
    assert outcome.status == StepStatus.FAILED
    assert "can no longer be quick-deployed" in outcome.detail and "cutover retry validate.dry-run" in outcome.detail
    assert "the org changed since the validation" in outcome.detail
    assert [c[0] for c in fake.calls] == ["deploy_quick"]


def test_other_quick_deploy_errors_are_not_mistaken_for_an_expired_validation(engine: Engine) -> None:
    fake = FakeSf(reports=[QUICK_OK], quick_error=SfCommandFailed("socket hang up", name="Error"))
    with pytest.raises(SfCommandFailed):
        make_step(engine, fake).run(make_ctx(engine))


def test_reattach_polls_the_recorded_deploy_and_never_submits(engine: Engine) -> None:
    fake = FakeSf(reports=[QUICK_OK])
    ids = {"deploy_id": QUICK_OK.id, "validation_id": VALIDATION_ID}
    outcome = make_step(engine, fake).reattach(make_ctx(engine), ids)
    assert outcome.status == StepStatus.PASSED
    assert all(name == "deploy_report" for name, _ in fake.calls) and fake.calls


def test_a_retried_step_adopts_the_deploy_an_earlier_attempt_submitted(engine: Engine) -> None:
    ctx = make_ctx(engine)
    ctx.set_external_id("deploy_id", QUICK_OK.id)  # attempt 1 submitted, then crashed
    with engine.store.transaction() as tx:
        engine.store.update_step(tx, ctx.run_id, "deploy.quick", status=StepStatus.RUNNING)
    engine.retry(ctx.run_id, "deploy.quick")  # clears the step's ids; the audit log keeps them
    assert engine.store.step(ctx.run_id, "deploy.quick").external_ids == {}
    fresh = StepContext(
        store=engine.store, record=engine.store.step(ctx.run_id, "deploy.quick"), project_dir=ctx.project_dir
    )
    fake = FakeSf(reports=[QUICK_OK])
    outcome = make_step(engine, fake).run(fresh)
    assert outcome.status == StepStatus.PASSED
    assert "deploy_quick" not in [name for name, _ in fake.calls]


def test_an_earlier_failed_deploy_allows_a_new_submission(engine: Engine) -> None:
    ctx = make_ctx(engine)
    ctx.set_external_id("deploy_id", "0Af5g00000ElaOLD1AAA")
    fake = FakeSf(reports=[FAILED, QUICK_OK])
    outcome = make_step(engine, fake).run(ctx)
    assert outcome.status == StepStatus.PASSED
    assert [name for name, _ in fake.calls][:2] == ["deploy_report", "deploy_quick"]


def guarded_ctx(engine: Engine, proved_org_id: str) -> StepContext:
    """A run whose guard step passed having proved `proved_org_id` (its org-identity.json evidence)."""
    specs = [
        StepSpec(id="guard.org-identity", stage="guard", title="g", action="sf.guard"),
        StepSpec(id="validate.dry-run", stage="validate", title="v", action="sf.validate"),
        StepSpec(id="deploy.quick", stage="deploy", title="deploy", action="sf.quick_deploy"),
    ]
    run = engine.create_run("production", specs)
    guard = StepContext(
        store=engine.store, record=engine.store.step(run.id, "guard.org-identity"), project_dir=engine.project_dir
    )
    guard.record_evidence(
        "org-identity.json", {"actual": {"org_id": proved_org_id, "username": "release@elaro.example"}}
    )
    with engine.store.transaction() as tx:
        engine.store.update_step(tx, run.id, "guard.org-identity", status=StepStatus.PASSED)
        engine.store.update_step(
            tx, run.id, "validate.dry-run", status=StepStatus.PASSED, external_ids={"validation_id": VALIDATION_ID}
        )
    return StepContext(
        store=engine.store, record=engine.store.step(run.id, "deploy.quick"), project_dir=engine.project_dir
    )


def test_the_alias_is_checked_again_right_before_deploying(engine: Engine) -> None:
    fake = FakeSf(reports=[QUICK_OK], org_id="00D5g00000OTHERAAA")
    outcome = make_step(engine, fake).run(guarded_ctx(engine, "00D5g00000ELAROEA5"))
    assert outcome.status == StepStatus.FAILED and "WRONG ORG" in outcome.detail
    assert "00D5g00000OTHERAAA" in outcome.detail and "00D5g00000ELAROEA5" in outcome.detail
    assert [name for name, _ in fake.calls] == ["org_display"]

    other = Engine(engine.project_dir / "other")
    try:
        same = FakeSf(reports=[QUICK_OK], org_id="00D5g00000ELAROEA5")
        assert make_step(other, same).run(guarded_ctx(other, "00D5g00000ELAROEA5")).status == StepStatus.PASSED
        assert [name for name, _ in same.calls][:2] == ["org_display", "deploy_quick"]
    finally:
        other.close()


# -- interrupted before sf answered with a deploy id (issue 11): ask the org, then adopt or submit ---------------------


def interrupted_before_the_id(engine: Engine) -> tuple[StepContext, str]:
    """A run whose deploy step was interrupted during attempt 1 before any deploy id was recorded."""
    ctx = make_ctx(engine)
    with engine.store.transaction() as tx:
        engine.store.update_step(tx, ctx.run_id, "deploy.quick", status=StepStatus.RUNNING, attempt=1)
        tx.append_event(ctx.run_id, "step.started", "deploy.quick", {"attempt": 1, "idempotent": False})
    return ctx, ctx.run_id


def resume_deploy(engine: Engine, run_id: str, fake: FakeSf) -> StepStatus:
    step = make_step(engine, fake)
    engine.execute(run_id, {"deploy.quick": step})
    return engine.store.step(run_id, "deploy.quick").status


def test_resume_adopts_the_deploy_the_org_holds_and_never_submits_another(engine: Engine) -> None:
    _ctx, run_id = interrupted_before_the_id(engine)
    fake = FakeSf(reports=[QUICK_OK], org_deploys=[{"Id": QUICK_OK.id, "Status": "InProgress"}])
    assert resume_deploy(engine, run_id, fake) == StepStatus.PASSED
    assert "deploy_quick" not in [name for name, _ in fake.calls]
    assert engine.store.step(run_id, "deploy.quick").external_ids["deploy_id"] == QUICK_OK.id
    assert any(e.type == "deploy.recover_adopted" for e in engine.events(run_id))


def test_resume_submits_when_the_org_holds_no_deploy_of_the_attempt(engine: Engine) -> None:
    _ctx, run_id = interrupted_before_the_id(engine)
    fake = FakeSf(reports=[QUICK_OK])
    assert resume_deploy(engine, run_id, fake) == StepStatus.PASSED
    assert [name for name, _ in fake.calls].count("deploy_quick") == 1
    assert any(e.type == "deploy.recover_none" for e in engine.events(run_id))


@pytest.mark.parametrize(
    ("org_deploys", "query_error", "expected"),
    [
        ([{"Id": "0Af1"}, {"Id": "0Af2"}], None, "holds 2 deploys"),
        ([], SfCommandFailed("sObject type 'DeployRequest' is not supported.", name="INVALID_TYPE"), "could not be"),
    ],
)
def test_resume_refuses_to_guess_when_the_org_cannot_tell(
    engine: Engine, org_deploys: list[dict[str, Any]], query_error: Exception | None, expected: str
) -> None:
    from cutover.errors import StepFailed

    _ctx, run_id = interrupted_before_the_id(engine)
    fake = FakeSf(reports=[QUICK_OK], org_deploys=org_deploys, query_error=query_error)
    with pytest.raises(StepFailed) as caught:
        resume_deploy(engine, run_id, fake)
    assert expected in caught.value.message and "cutover waive deploy.quick" in caught.value.message
    assert "deploy_quick" not in [name for name, _ in fake.calls]
