"""The engine side of a manual rollback: `Engine.request_rollback` + `execute` run the contingency steps of a run that
finished (or failed) and end it `rolled_back`; the message says what the rollback steps did."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cutover.engine import Engine, RunState, StepContext, StepOutcome, StepSpec, StepStatus
from cutover.errors import StepFailed, UsageError


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(tmp_path)
    yield eng
    eng.close()


class Recorder:
    idempotent = True

    def __init__(self, calls: list[str], step_id: str, outcome: StepOutcome | None = None) -> None:
        self.calls, self.step_id = calls, step_id
        self.outcome = outcome or StepOutcome.passed(f"{step_id} did its part")

    def run(self, ctx: StepContext) -> StepOutcome:
        self.calls.append(self.step_id)
        return self.outcome


PLAN = [
    StepSpec("deploy", "deploy", "Deploy", "t"),
    StepSpec("verify", "verify", "Verify", "t", on_failure="rollback"),
    StepSpec("rollback.redeploy", "rollback", "Redeploy the backup", "t", contingency=True),
    StepSpec("rollback.remove-added", "rollback", "Remove added", "t", contingency=True),
]


def executors(calls: list[str], **outcomes: StepOutcome) -> dict[str, Recorder]:
    return {s.id: Recorder(calls, s.id, outcomes.get(s.id.replace(".", "_").replace("-", "_"))) for s in PLAN}


def test_a_succeeded_run_can_be_rolled_back_on_request(engine: Engine) -> None:
    calls: list[str] = []
    run = engine.create_run("prod", PLAN)
    assert engine.execute(run.id, executors(calls)).state == RunState.SUCCEEDED
    assert calls == ["deploy", "verify"]
    assert {r.id: r.status for r in engine.steps(run.id)}["rollback.redeploy"] == StepStatus.SKIPPED

    engine.request_rollback(run.id, reason="users locked out", by="Dana Lead")
    assert engine.store.get_run(run.id).state == RunState.PAUSED
    result = engine.execute(run.id, executors(calls))
    assert result.state == RunState.ROLLED_BACK
    assert calls == ["deploy", "verify", "rollback.redeploy", "rollback.remove-added"]
    assert "rolled back on request (users locked out)" in result.message
    assert "rollback.remove-added: rollback.remove-added did its part" in result.message
    assert engine.status(run.id)["state"] == "rolled_back"
    types = [e.type for e in engine.events(run.id)]
    assert "rollback.requested" in types and types[-1] == "run.rolled_back"
    assert engine.verify(run.id).ok
    with pytest.raises(UsageError, match="rolled_back"):
        engine.request_rollback(run.id, reason="again")


def test_automatic_rollback_message_says_what_was_restored(engine: Engine) -> None:
    calls: list[str] = []
    run = engine.create_run("prod", PLAN)
    with pytest.raises(StepFailed) as failed:
        engine.execute(run.id, executors(calls, verify=StepOutcome.failed("3 failed transactions in ApexLog")))
    message = failed.value.message
    assert "verify" in message and "3 failed transactions" in message and "rolled back" in message
    assert "rollback.redeploy: rollback.redeploy did its part" in message
    assert engine.status(run.id)["state"] == "rolled_back"


def test_a_failed_rollback_step_fails_the_requested_rollback(engine: Engine) -> None:
    calls: list[str] = []
    run = engine.create_run("prod", PLAN)
    engine.execute(run.id, executors(calls))
    engine.request_rollback(run.id, reason="data integrity")
    with pytest.raises(StepFailed, match="rollback step failed: deploy refused"):
        engine.execute(run.id, executors(calls, rollback_redeploy=StepOutcome.failed("deploy refused")))
    assert engine.status(run.id)["state"] == "failed"


def test_a_run_without_rollback_steps_cannot_be_rolled_back(engine: Engine) -> None:
    run = engine.create_run("prod", [StepSpec("a", "s", "A", "t")])
    with pytest.raises(UsageError, match="no rollback steps"):
        engine.request_rollback(run.id, reason="x")


def test_a_rollback_trigger_without_rollback_steps_fails_the_run_instead_of_claiming_rolled_back(
    engine: Engine,
) -> None:
    run = engine.create_run("prod", PLAN[:2])
    with pytest.raises(StepFailed, match="no rollback steps to run"):
        engine.execute(run.id, executors([], verify=StepOutcome.failed("jobs missing")))
    assert engine.status(run.id)["state"] == "failed"
