"""A run's store rebuilt from its workflow's events (stateless workers), and the sign-off activity's logic.

No Temporal server here: the activities' synchronous halves run in-process on the Elaro example's runbook (no sf
call: planning and sign-offs touch no org).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cutover.engine import Engine, StepStatus
from cutover.temporal.activities import plan_run_sync, record_signoff_sync
from cutover.temporal.state import export_events, materialize, run_folder
from cutover.temporal.types import OrgRunInput, OrgTarget, RunSnapshot, SignoffInput, SignoffRequest

REPO = Path(__file__).resolve().parents[3]
ORG = "00D5g00000FLT01EAH"


@pytest.fixture
def org_run(tmp_path: Path) -> OrgRunInput:
    project = tmp_path / "elaro"
    shutil.copytree(
        REPO / "examples" / "elaro",
        project,
        ignore=shutil.ignore_patterns("node_modules", "coverage", ".cutover", "backups", "logs"),
    )
    return OrgRunInput(OrgTarget(ORG, "acme", "admin@acme.example", "https://acme.example"), str(project))


def test_plan_retargets_the_runbook_at_the_org_and_the_store_rebuilds_with_a_verified_chain(
    org_run: OrgRunInput,
) -> None:
    snapshot = plan_run_sync(org_run)
    assert snapshot.target_org == "acme" and [e["type"] for e in snapshot.events] == ["run.created"]
    guard = next(s for s in snapshot.specs if s["id"] == "guard.org-identity")
    assert "acme" in str(guard["params"]) and ORG in str(guard["params"])  # the fleet's org, not the runbook's
    backup = next(s for s in snapshot.specs if s["id"] == "backup.retrieve")
    assert backup["params"]["backup_dir"] == f"backups/{ORG[:15]}"  # orgs released at once never share a folder
    folder = run_folder(Path(org_run.project_dir), ORG, snapshot.run_id)
    assert folder.parent.name == ORG[:15]
    materialize(folder, snapshot).close()
    engine = Engine(folder)
    try:
        assert engine.verify(snapshot.run_id).ok, engine.verify(snapshot.run_id).problem
        assert {r.status for r in engine.steps(snapshot.run_id)} == {StepStatus.PENDING}
    finally:
        engine.close()


def test_a_crashed_attempts_heartbeated_events_leave_the_step_running_with_its_job_id(org_run: OrgRunInput) -> None:
    snapshot = plan_run_sync(org_run)
    folder = run_folder(Path(org_run.project_dir), ORG, snapshot.run_id)
    store = materialize(folder, snapshot)
    try:  # what a worker records before it dies mid-deploy
        with store.transaction() as tx:
            tx.append_event(snapshot.run_id, "run.started", None, {"previous_state": "planned"})
            store.update_step(tx, snapshot.run_id, "deploy.quick", status=StepStatus.RUNNING)
            tx.append_event(snapshot.run_id, "step.started", "deploy.quick", {"attempt": 1, "idempotent": False})
            tx.append_event(snapshot.run_id, "step.external_id", "deploy.quick", {"key": "deploy_id", "value": "0Af1"})
        heartbeated = export_events(store, snapshot.run_id)[1:]
    finally:
        store.close()
    # Another worker: the workflow's events (only run.created) plus the heartbeated ones, in the same folder.
    materialize(folder, snapshot, heartbeated).close()
    engine = Engine(folder)
    try:
        record = next(r for r in engine.steps(snapshot.run_id) if r.id == "deploy.quick")
        assert record.status == StepStatus.RUNNING and dict(record.external_ids) == {"deploy_id": "0Af1"}
        assert record.attempt == 1
        assert engine.resolve_run(snapshot.run_id).state.value == "running"
        assert engine.verify(snapshot.run_id).ok, engine.verify(snapshot.run_id).problem
    finally:
        engine.close()
    # Without the heartbeated events the step is pending again (a crash before anything was recorded).
    materialize(folder, snapshot).close()
    engine = Engine(folder)
    try:
        record = next(r for r in engine.steps(snapshot.run_id) if r.id == "deploy.quick")
        assert record.status == StepStatus.PENDING and not record.external_ids
        assert engine.verify(snapshot.run_id).ok
    finally:
        engine.close()


def test_signoffs_arrive_as_events_and_follow_the_runbooks_roles(org_run: OrgRunInput) -> None:
    snapshot = plan_run_sync(org_run)
    refused = record_signoff_sync(
        SignoffInput(org_run, snapshot, SignoffRequest("verify.checklist-1h", "Quinn QA", "no_such_role"))
    )
    assert not refused.ok and "no_such_role" in refused.message and refused.events == []
    signed = record_signoff_sync(
        SignoffInput(org_run, snapshot, SignoffRequest("verify.checklist-1h", "Taylor Lead", "deployment_lead"))
    )
    assert signed.ok, signed.message
    assert [e["type"] for e in signed.events] == ["signoff.recorded"]
    assert signed.events[0]["prev_hash"] == snapshot.events[-1]["hash"]  # the chain continues
    after = RunSnapshot(snapshot.run_id, snapshot.target_org, snapshot.specs, snapshot.events + signed.events)
    folder = run_folder(Path(org_run.project_dir), ORG, snapshot.run_id)
    materialize(folder, after).close()
    engine = Engine(folder)
    try:
        signoffs = engine.store.logged_signoffs(snapshot.run_id, "verify.checklist-1h")
        assert [(s.by, s.role) for s in signoffs] == [("Taylor Lead", "deployment_lead")]
        assert engine.verify(snapshot.run_id).ok, engine.verify(snapshot.run_id).problem
    finally:
        engine.close()
