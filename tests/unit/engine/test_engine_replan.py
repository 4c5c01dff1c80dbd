"""Re-planning a run after its runbook changed, and the waiver that disables the rollback."""

from __future__ import annotations

import pytest
from engine_helpers import ScriptedStep

from cutover.engine import Engine, Progress, RunState, SignoffRule, StepOutcome, StepSpec, StepStatus
from cutover.engine.replan import definition_hash
from cutover.errors import AwaitingSignoff, StepFailed, UsageError
from cutover.report.record import consistency_problems
from cutover.steps.signoff import SignoffStep

TOKEN = "00D000000000001AAA!AQ8.fake.token"


def spec(step_id: str, stage: str = "preflight", **changes: object) -> StepSpec:
    fields: dict = {"id": step_id, "stage": stage, "title": f"Step {step_id}", "action": "test"} | changes
    return StepSpec(**fields)


def sign(step_id: str, **changes: object) -> StepSpec:
    return spec(step_id, kind="signoff", action="signoff", signoff=SignoffRule(roles=("lead",)), **changes)


def status(engine: Engine, run_id: str) -> dict[str, str]:
    return {r.id: r.status.value for r in engine.steps(run_id)}


def consistent(engine: Engine, run_id: str) -> list[str]:
    """What the release record finds when it replays the audit log against state.db (nothing, after a re-plan)."""
    store = engine.store
    run = engine.resolve_run(run_id)
    return consistency_problems(
        run, store.steps(run_id), store.events(run_id), signoffs=store.signoffs(run_id), waivers=store.waivers(run_id)
    )


def test_the_definition_hash_survives_the_store_and_sees_every_field(engine: Engine) -> None:
    original = spec("a", params={"argv": ["deploy", f"--token={TOKEN}"], "n": 1})
    run = engine.create_run("prod", [original])
    stored = engine.steps(run.id)[0].spec
    assert TOKEN not in str(stored.params)  # stored redacted, yet it hashes like the planned spec
    assert definition_hash(stored) == definition_hash(original)
    for changed in (
        spec("a", params={"argv": ["deploy"], "n": 2}),
        spec("a", title="Other"),
        spec("a", blocking=False),
        spec("a", action="other"),
        spec("a", on_failure="rollback"),
    ):
        assert definition_hash(changed) != definition_hash(original)


def test_only_changed_steps_are_reset_and_their_sign_offs_dropped(engine: Engine) -> None:
    calls: list[str] = []
    old = [spec("gate"), sign("approve"), sign("review"), spec("deploy", "deploy"), spec("gone"), spec("later")]
    run = engine.create_run("prod", old, runbook_sha256="r1")
    engine.signoff(run.id, "approve", by="ann", role="lead")
    engine.signoff(run.id, "review", by="bob", role="lead")
    steps = {"gate": ScriptedStep("gate", calls, idempotent=True), "approve": SignoffStep(), "review": SignoffStep()}
    steps |= {"deploy": ScriptedStep("deploy", calls), "gone": ScriptedStep("gone", calls)}
    steps["later"] = ScriptedStep("later", calls)
    engine.execute(run.id, steps, select=lambda s: s.stage == "preflight")  # stops before deploy
    assert status(engine, run.id)["review"] == "passed"

    new = [spec("gate"), sign("approve"), sign("review", title="Review, with evidence"), spec("added")]
    new += [spec("deploy", "deploy"), spec("later", params={"x": 1})]
    result = engine.replan(run.id, new, runbook_sha256="r2", runbook_path="cutover.yaml")
    assert result.kept == ["gate", "approve", "deploy"]
    assert result.reset == ["review", "later"] and result.added == ["added"] and result.removed == ["gone"]
    assert result.dropped_signoffs == [{"step": "review", "by": "bob", "role": "lead"}]
    assert result.changed_after_execution == [] and result.point_of_no_return is None
    assert [r.id for r in engine.steps(run.id)] == ["gate", "approve", "review", "added", "deploy", "later"]
    assert status(engine, run.id) == {
        "gate": "passed",
        "approve": "passed",
        "review": "pending",
        "added": "pending",
        "deploy": "pending",
        "later": "pending",
    }
    assert [s.by for s in engine.store.signoffs(run.id)] == ["ann"]
    assert engine.resolve_run(run.id).runbook_sha256 == "r2"
    event = [e for e in engine.events(run.id) if e.type == "run.replanned"][-1]
    assert event.payload["old_runbook_sha256"] == "r1" and event.payload["new_runbook_sha256"] == "r2"
    assert engine.verify(run.id).ok and consistent(engine, run.id) == []
    steps["added"] = ScriptedStep("added", calls)
    with pytest.raises(AwaitingSignoff):  # the changed review is asked for again; the gate is not re-run
        engine.execute(run.id, steps)
    assert calls == ["gate"]


def test_past_the_point_of_no_return_a_changed_finished_step_is_kept_as_it_ran(engine: Engine) -> None:
    calls: list[str] = []
    old = [spec("backup", "backup"), spec("deploy", "deploy"), sign("smoke", stage="verify"), spec("fails")]
    run = engine.create_run("prod", old, runbook_sha256="r1")
    steps = {"backup": ScriptedStep("backup", calls, idempotent=True), "deploy": ScriptedStep("deploy", calls)}
    steps |= {"smoke": SignoffStep(), "fails": ScriptedStep("fails", calls)}
    with pytest.raises(AwaitingSignoff):
        engine.execute(run.id, steps)
    new = [spec("backup", "backup", params={"dir": "b2"}), spec("check", "backup"), spec("deploy", "deploy")]
    new += [sign("smoke", stage="verify", title="Smoke, v2"), spec("after")]
    result = engine.replan(run.id, new, runbook_sha256="r2")
    assert result.point_of_no_return == "deploy"
    assert result.changed_after_execution == ["backup"] and result.added_skipped == ["check"]
    assert result.reset == ["smoke"] and result.removed == ["fails"]
    got = status(engine, run.id)
    assert got == {"backup": "passed", "check": "skipped", "deploy": "passed", "smoke": "pending", "after": "pending"}
    assert any("backup changed after it ran" in line for line in result.lines())
    assert "definition changed after it ran" in engine.steps(run.id)[0].detail
    assert consistent(engine, run.id) == []


def test_a_removed_step_that_failed_is_skipped_and_a_finished_one_kept(engine: Engine) -> None:
    calls: list[str] = []
    run = engine.create_run("prod", [spec("a"), spec("b", blocking=False), spec("c")], runbook_sha256="r1")
    steps = {"a": ScriptedStep("a", calls, idempotent=True), "c": ScriptedStep("c", calls)}
    steps["b"] = ScriptedStep("b", calls, behaviour=lambda ctx: StepOutcome.failed("no"))
    engine.execute(run.id, steps)
    engine.store.db.execute("UPDATE runs SET state = 'paused'")
    result = engine.replan(run.id, [spec("c")], runbook_sha256="r2")
    assert result.removed == ["a", "b"] and result.kept == ["c"]
    assert status(engine, run.id) == {"a": "passed", "b": "skipped", "c": "passed"}
    assert [r.id for r in engine.steps(run.id)] == ["a", "b", "c"]
    assert [p for p in consistent(engine, run.id) if "state.db but" not in p or "the run is" not in p] == []


def test_a_finished_run_is_not_re_planned(engine: Engine) -> None:
    run = engine.create_run("prod", [spec("a")])
    engine.abort(run.id, "no")
    with pytest.raises(UsageError, match="aborted; its plan can no longer change"):
        engine.replan(run.id, [spec("a")], runbook_sha256="x")


class Notes(Progress):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def note(self, text: str) -> None:
        self.lines.append(text)


def test_waiving_the_backup_needs_the_acknowledgement_and_the_run_warns_before_deploying(engine: Engine) -> None:
    calls: list[str] = []
    rollback = spec("rollback.redeploy", "rollback", contingency=True)
    run = engine.create_run("prod", [spec("backup.retrieve", "backup"), spec("deploy.quick", "deploy"), rollback])
    with pytest.raises(UsageError, match=r"disables the rollback .* add --accept-no-rollback"):
        engine.waive(run.id, "backup.retrieve", reason="retrieve broken", approver="dana")
    assert status(engine, run.id)["backup.retrieve"] == "pending"
    engine.waive(run.id, "backup.retrieve", reason="retrieve broken", approver="dana", accept_no_rollback=True)
    waived = next(e for e in engine.events(run.id) if e.type == "step.waived")
    assert waived.payload["accept_no_rollback"] is True and len(waived.payload["definition"]) == 64
    progress = Notes()
    result = engine.execute(run.id, {"deploy.quick": ScriptedStep("deploy", calls)}, progress=progress)
    assert result.state == RunState.SUCCEEDED
    assert any(
        line.startswith("warning: backup.retrieve waived: this deploy cannot be rolled back") for line in progress.lines
    )
    types = [e.type for e in engine.events(run.id)]
    assert types.index("rollback.disabled") < types.index("step.started", types.index("run.started"))


def test_a_step_without_a_rollback_behind_it_is_waived_as_before(engine: Engine) -> None:
    run = engine.create_run("prod", [spec("backup.retrieve", "backup"), spec("deploy.quick", "deploy")])
    engine.waive(run.id, "backup.retrieve", reason="no rollback planned", approver="dana")
    assert engine.steps(run.id)[0].status == StepStatus.WAIVED


def test_the_waiver_a_failed_backup_suggests_carries_the_acknowledgement(engine: Engine) -> None:
    calls: list[str] = []
    rollback = spec("rollback.redeploy", "rollback", contingency=True)
    run = engine.create_run("prod", [spec("backup.retrieve", "backup"), spec("deploy.quick", "deploy"), rollback])
    failing = ScriptedStep("backup", calls, behaviour=lambda ctx: StepOutcome.failed("retrieve failed"))
    with pytest.raises(StepFailed) as failed:
        engine.execute(run.id, {"backup.retrieve": failing, "deploy.quick": ScriptedStep("deploy", calls)})
    suggested = "cutover waive backup.retrieve --reason TEXT --approver WHO --accept-no-rollback"
    assert suggested in (failed.value.hint or "")
    assert suggested in engine.status(run.id)["next"]
    argv = suggested.split()[2:]  # the command as printed works (TEXT/WHO filled in)
    engine.waive(
        run.id, argv[0], reason="retrieve broken", approver="dana", accept_no_rollback="--accept-no-rollback" in argv
    )
    assert engine.steps(run.id)[0].status == StepStatus.WAIVED
