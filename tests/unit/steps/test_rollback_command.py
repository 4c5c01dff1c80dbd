"""`cutover rollback [RUN]`: refusals, the decision sign-off, and the run ending `rolled_back`.

The rollback plan's executors are scripted here; the real ones run against orgsim in
tests/integration/test_verify_rollback.py. The run has only its deploy step finished: later steps of the plan
(monitoring, checklists) must not be needed for a rollback.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from cutover.cli import main
from cutover.engine import Engine, RunState, StepContext, StepOutcome, StepStatus
from cutover.runbook import load_runbook
from cutover.runbook.plan import build_plan
from cutover.steps import plan_to_specs
from cutover.steps.registry import executor_factory, load_builtin_executors, register_action, unregister_action

EXAMPLE_RUNBOOK = Path(__file__).resolve().parents[3] / "examples" / "elaro" / "cutover.yaml"
ROLLBACK_ACTIONS = ("sf.rollback", "sf.rollback_destructive", "sf.verify_jobs", "notify")


class Scripted:
    idempotent = True

    def __init__(self, calls: list[str], step_id: str) -> None:
        self.calls, self.step_id = calls, step_id

    def run(self, ctx: StepContext) -> StepOutcome:
        self.calls.append(self.step_id)
        return StepOutcome.passed(f"{self.step_id} done")


@pytest.fixture
def calls() -> Iterator[list[str]]:
    load_builtin_executors()
    saved = {action: executor_factory(action) for action in ROLLBACK_ACTIONS}
    made: list[str] = []
    for action in ROLLBACK_ACTIONS:
        register_action(action, lambda plan_step, rb, services: Scripted(made, plan_step.id), replace=True)
    yield made
    for action, factory in saved.items():
        unregister_action(action)
        if factory is not None:
            register_action(action, factory)


def project_with_run(tmp_path: Path, *, deployed: bool, finished: bool = False) -> tuple[Path, str]:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(EXAMPLE_RUNBOOK, project / "cutover.yaml")
    runbook = load_runbook(project / "cutover.yaml")
    from cutover.steps import file_sha256

    engine = Engine(project)
    run = engine.create_run(
        "production",
        plan_to_specs(build_plan(runbook), runbook),
        runbook_path="cutover.yaml",
        runbook_sha256=file_sha256(project / "cutover.yaml"),
    )
    if deployed:
        with engine.store.transaction() as tx:
            engine.store.update_step(tx, run.id, "deploy.quick", status=StepStatus.PASSED, started="x", finished="y")
    if finished:  # the whole plan went through: the run succeeded, its rollback steps were not needed
        with engine.store.transaction() as tx:
            for record in engine.steps(run.id):
                status = StepStatus.SKIPPED if record.spec.contingency else StepStatus.PASSED
                engine.store.update_step(tx, run.id, record.id, status=status, started="x", finished="y")
            engine.store.set_run_state(tx, run.id, RunState.SUCCEEDED, note="all steps finished")
    engine.close()
    return project, run.id


def test_refuses_a_run_that_deployed_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project, run_id = project_with_run(tmp_path, deployed=False)
    assert main(["-C", str(project), "rollback", run_id, "--yes"]) == 2
    err = capsys.readouterr().err
    assert "deployed nothing" in err and "nothing to roll back" in err


def test_needs_confirmation_without_yes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project, run_id = project_with_run(tmp_path, deployed=True)
    assert main(["-C", str(project), "rollback", run_id]) == 2
    assert "needs confirmation" in capsys.readouterr().err


def test_rolls_back_with_the_approvers_signoff_and_ends_rolled_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], calls: list[str]
) -> None:
    project, run_id = project_with_run(tmp_path, deployed=True)
    code = main(
        ["-C", str(project), "rollback", run_id, "--yes", "--by", "Avery Brooks", "--reason", "users locked out",
         "--format", "json"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    status = json.loads(out)
    assert status["state"] == "rolled_back"
    steps = {s["id"]: s for s in status["steps"]}
    assert steps["rollback.decide"]["status"] == "passed"
    assert steps["rollback.decide"]["signoffs"][0]["by"] == "Avery Brooks"
    assert calls == ["rollback.redeploy-backup", "rollback.remove-added", "rollback.scheduled-jobs", "rollback.notify"]
    assert "users locked out" in status["note"] and "rollback.remove-added done" in status["note"]
    assert main(["-C", str(project), "rollback", run_id, "--yes"]) == 2  # already rolled back
    assert "rolled_back" in capsys.readouterr().err


def test_without_an_approver_the_rollback_waits_for_the_decision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], calls: list[str]
) -> None:
    project, run_id = project_with_run(tmp_path, deployed=True)
    assert main(["-C", str(project), "rollback", run_id, "--yes"]) == 4
    assert "rollback.decide" in capsys.readouterr().err
    assert calls == []
    assert main(["-C", str(project), "signoff", "rollback.decide", "--by", "Avery Brooks", "--role",
                 "deployment_lead", "--run", run_id]) == 0  # fmt: skip
    assert main(["-C", str(project), "rollback", run_id, "--yes"]) == 0
    assert calls[0] == "rollback.redeploy-backup"
    engine = Engine(project)
    assert engine.status(run_id)["state"] == "rolled_back"
    engine.close()


def test_the_two_step_rollback_continues_with_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], calls: list[str]
) -> None:
    # Issue 7: `cutover rollback` (exit 4) → `cutover signoff rollback.decide` → `cutover resume` must roll back,
    # also for a run that had finished (no step left that could trigger a rollback by itself).
    project, run_id = project_with_run(tmp_path, deployed=True, finished=True)
    assert main(["-C", str(project), "rollback", run_id, "--yes", "--reason", "users locked out"]) == 4
    err = capsys.readouterr().err
    assert f"cutover resume {run_id}" in err and "cutover signoff rollback.decide" in err
    assert main(["-C", str(project), "signoff", "rollback.decide", "--by", "Avery Brooks", "--role",
                 "deployment_lead"]) == 0  # fmt: skip  # the printed command, without --run: the open run
    capsys.readouterr()
    assert main(["-C", str(project), "resume", run_id, "--format", "json"]) == 0, capsys.readouterr().err
    status = json.loads(capsys.readouterr().out)
    assert status["state"] == "rolled_back", status["note"]
    assert calls == ["rollback.redeploy-backup", "rollback.remove-added", "rollback.scheduled-jobs", "rollback.notify"]
    assert "users locked out" in status["note"]


class FailsOnce(Scripted):
    """The destructive deploy refused once (e.g. a component still referenced), then accepted."""

    failed = False

    def run(self, ctx: StepContext) -> StepOutcome:
        if not FailsOnce.failed:
            FailsOnce.failed = True
            return StepOutcome.failed("destructive deploy 0Af1 Failed: ApexClass X: referenced elsewhere")
        return super().run(ctx)


def printed(text: str, start: str) -> list[str]:
    """The argv of each `cutover ...` command starting with `start` printed in `text` (placeholders filled)."""
    import re
    import shlex

    found = []
    for match in re.finditer(rf"({re.escape(start)}[^;`()\n]*)", text):
        line = (
            match.group(1).strip().replace("TEXT", "'fixed by hand'").replace("WHO", "'Avery Brooks'")
        )  # the runbook's lead
        for part in line.split("&&"):
            found.append(shlex.split(part.strip())[1:])
    return found


@pytest.mark.parametrize("recovery", ["retry", "waive"])
def test_every_recovery_command_a_failed_rollback_prints_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], calls: list[str], recovery: str
) -> None:
    FailsOnce.failed = False
    register_action(
        "sf.rollback_destructive", lambda plan_step, rb, services: FailsOnce(calls, plan_step.id), replace=True
    )
    project, run_id = project_with_run(tmp_path, deployed=True, finished=True)
    code = main(["-C", str(project), "rollback", run_id, "--yes", "--by", "Avery Brooks", "--reason", "broken"])
    err = capsys.readouterr().err
    assert code == 1 and "rollback step failed" in err, err
    if recovery == "retry":
        commands = printed(err, "cutover retry")
        assert [c[0] for c in commands] == ["retry", "resume"], err
    else:
        commands = [*printed(err, "cutover waive"), ["resume"]]
        assert commands[0][:2] == ["waive", "rollback.remove-added"], err
    for argv in commands:
        assert main(["-C", str(project), *argv]) == 0, (argv, capsys.readouterr().err)
    engine = Engine(project)
    assert engine.status(run_id)["state"] == "rolled_back"
    engine.close()
    for argv in (["status", run_id], ["audit", "log", run_id]):  # printed after a triggered rollback
        assert main(["-C", str(project), *argv]) == 0, (argv, capsys.readouterr().err)


def test_a_run_whose_backup_was_waived_is_refused_with_who_and_when(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], calls: list[str]
) -> None:
    project, run_id = project_with_run(tmp_path, deployed=True)
    waived = main(["-C", str(project), "waive", "backup.retrieve", "--reason", "retrieve timed out", "--approver",
                   "Avery Brooks", "--accept-no-rollback", "--run", run_id])  # fmt: skip
    assert waived == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["-C", str(project), "rollback", run_id, "--yes", "--by", "Avery Brooks"]) == 1
    err = capsys.readouterr().err
    assert "rollback impossible: the backup step backup.retrieve was waived on 20" in err
    assert "by Avery Brooks (retrieve timed out); a rollback needs a backup" in err
    assert "`sf project deploy start --source-dir force-app --target-org production`" in err
    assert calls == []
