"""Detachable steps (cutover.engine.overlap): submitted early, joined in plan order, cancelled or re-attached."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from engine_helpers import ScriptedStep

from cutover.engine import Engine, StepContext, StepOutcome, StepSpec, StepStatus
from cutover.engine.overlap import Overlap, join_due
from cutover.errors import StepFailed


@dataclass
class Job:
    """A fake detachable executor: `submit` records a job id, `reattach` judges it, `cancel` cancels it."""

    name: str
    calls: list[str]
    verdict: str = "passed"
    can_cancel: bool = True
    submit_error: str | None = None
    cancel_note: str | None = None
    idempotent: bool = True
    joined: list[dict[str, Any]] = field(default_factory=list)

    def submit(self, ctx: StepContext) -> None:
        self.calls.append(f"submit {self.name}")
        if self.submit_error:
            raise RuntimeError(self.submit_error)
        ctx.set_external_id("job_id", f"J-{self.name}")

    def run(self, ctx: StepContext) -> StepOutcome:
        self.calls.append(f"run {self.name}")
        return self._verdict()

    def reattach(self, ctx: StepContext, external_ids: Mapping[str, Any]) -> StepOutcome:
        self.calls.append(f"join {self.name}")
        self.joined.append(dict(external_ids))
        return self._verdict()

    def _verdict(self) -> StepOutcome:
        return StepOutcome.passed("ok") if self.verdict == "passed" else StepOutcome.failed(f"{self.name} failed")

    def __getattr__(self, name: str) -> Any:
        if name == "cancel" and self.can_cancel:
            return lambda ctx, ids: self.calls.append(f"cancel {self.name} {ids['job_id']}") or self.cancel_note
        raise AttributeError(name)


def spec(sid: str, *, overlap: dict[str, Any] | None = None, on_failure: str = "stop") -> StepSpec:
    params = {"overlap": overlap} if overlap else {}
    return StepSpec(id=sid, stage=sid.split(".")[0], title=sid, action="test", params=params, on_failure=on_failure)


def plan(validate_overlap: bool = True) -> list[StepSpec]:
    return [
        spec("guard.org"),
        spec("backup.retrieve"),
        spec("release.tag"),
        spec("validate.dry", overlap={"after": ["guard.org"], "join_before": None} if validate_overlap else None),
        spec("deploy.quick"),
    ]


def scripted(calls: list[str], *ids: str, fail: str | None = None) -> dict[str, Any]:
    def failing(ctx: StepContext) -> StepOutcome:
        return StepOutcome.failed("it broke")

    return {i: ScriptedStep(i, calls, behaviour=failing if i == fail else None) for i in ids}


def release_executors(calls: list[str], fail: str | None = None, **job: Any) -> dict[str, Any]:
    ids = ("guard.org", "backup.retrieve", "release.tag", "deploy.quick")
    return {**scripted(calls, *ids, fail=fail), "validate.dry": Job("validate.dry", calls, **job)}


def types(engine: Engine, run_id: str) -> list[tuple[str, str | None]]:
    wanted = {
        "step.started",
        "step.submitted",
        "step.joined",
        "step.cancelled",
        "step.submit_failed",
        "step.reattaching",
    }
    return [(e.type, e.step_id) for e in engine.events(run_id) if e.type in wanted]


def test_validation_is_submitted_after_the_guard_and_joined_at_its_place(engine: Engine) -> None:
    calls: list[str] = []
    validate = Job("validate.dry", calls)
    executors = {
        **scripted(calls, "guard.org", "backup.retrieve", "release.tag", "deploy.quick"),
        "validate.dry": validate,
    }
    run = engine.create_run("org", plan())
    result = engine.execute(run.id, executors)
    assert result.state == "succeeded"
    assert calls == [
        "guard.org",
        "submit validate.dry",
        "backup.retrieve",
        "release.tag",
        "join validate.dry",
        "deploy.quick",
    ]
    assert validate.joined == [{"job_id": "J-validate.dry"}]
    assert types(engine, run.id) == [
        ("step.started", "guard.org"),
        ("step.submitted", "validate.dry"),
        ("step.started", "backup.retrieve"),
        ("step.started", "release.tag"),
        ("step.joined", "validate.dry"),
        ("step.started", "deploy.quick"),
    ]
    assert engine.verify(run.id).ok  # the chain replays to the same tables
    assert engine._step(run.id, "validate.dry").attempt == 1


def test_without_overlap_the_steps_run_one_after_the_other(engine: Engine) -> None:
    calls: list[str] = []
    executors = release_executors(calls)
    run = engine.create_run("org", plan(validate_overlap=False))
    engine.execute(run.id, executors)
    assert calls == ["guard.org", "backup.retrieve", "release.tag", "run validate.dry", "deploy.quick"]


def test_a_failed_backup_cancels_the_validation_and_a_retry_submits_it_again(engine: Engine) -> None:
    calls: list[str] = []
    executors = release_executors(calls, fail="backup.retrieve")
    run = engine.create_run("org", plan())
    with pytest.raises(StepFailed, match=r"backup.retrieve"):
        engine.execute(run.id, executors)
    assert calls == ["guard.org", "submit validate.dry", "backup.retrieve", "cancel validate.dry J-validate.dry"]
    record = engine._step(run.id, "validate.dry")
    assert record.status == StepStatus.PENDING and dict(record.external_ids) == {}
    assert "cancelled (backup.retrieve failed)" in record.detail
    assert ("step.cancelled", "validate.dry") in types(engine, run.id)
    assert "deploy.quick" not in calls
    assert engine.verify(run.id).ok
    # fixed: retry the backup, resume: the validation is submitted afresh (a new job), never re-attached to the old
    calls.clear()
    executors["backup.retrieve"] = ScriptedStep("backup.retrieve", calls)
    engine.retry(run.id, "backup.retrieve")
    engine.execute(run.id, executors)
    assert calls == ["submit validate.dry", "backup.retrieve", "release.tag", "join validate.dry", "deploy.quick"]
    assert engine.verify(run.id).ok


def test_a_failed_backup_joins_a_job_that_cannot_be_cancelled(engine: Engine) -> None:
    calls: list[str] = []
    executors = release_executors(calls, fail="backup.retrieve", can_cancel=False)
    run = engine.create_run("org", plan())
    with pytest.raises(StepFailed, match=r"step backup.retrieve"):
        engine.execute(run.id, executors)
    assert calls[-1] == "join validate.dry"
    assert engine._step(run.id, "validate.dry").status == StepStatus.PASSED  # its verdict is on record
    assert engine._step(run.id, "deploy.quick").status == StepStatus.PENDING


def test_a_failed_validation_fails_the_run_at_its_place_after_the_backup(engine: Engine) -> None:
    calls: list[str] = []
    executors = release_executors(calls, verdict="failed")
    run = engine.create_run("org", plan())
    with pytest.raises(StepFailed, match=r"step validate.dry"):
        engine.execute(run.id, executors)
    assert calls == ["guard.org", "submit validate.dry", "backup.retrieve", "release.tag", "join validate.dry"]
    assert engine._step(run.id, "backup.retrieve").status == StepStatus.PASSED
    assert engine._step(run.id, "deploy.quick").status == StepStatus.PENDING


def test_a_submission_that_fails_runs_the_step_at_its_place(engine: Engine) -> None:
    calls: list[str] = []
    executors = release_executors(calls, submit_error="org busy")
    run = engine.create_run("org", plan())
    engine.execute(run.id, executors)
    assert calls == [
        "guard.org",
        "submit validate.dry",
        "backup.retrieve",
        "release.tag",
        "run validate.dry",
        "deploy.quick",
    ]
    failed = [e for e in engine.events(run.id) if e.type == "step.submit_failed"]
    assert failed and "org busy" in failed[0].payload["error"]
    assert engine.verify(run.id).ok


class Crash(BaseException):
    """Stands for a SIGKILL: nothing after it runs in this process."""


def test_a_crash_before_the_join_reattaches_on_resume_and_never_submits_twice(engine: Engine) -> None:
    calls: list[str] = []

    def crash(ctx: StepContext) -> StepOutcome:
        raise Crash

    executors = release_executors(calls)
    executors["release.tag"] = ScriptedStep("release.tag", calls, idempotent=True, behaviour=crash)
    run = engine.create_run("org", plan())
    with pytest.raises(Crash):
        engine.execute(run.id, executors)
    engine.locks.release("org", run.id)  # the dead process's lock (broken with `cutover lock break`)
    assert engine._step(run.id, "validate.dry").status == StepStatus.RUNNING
    calls.clear()
    executors["release.tag"] = ScriptedStep("release.tag", calls, idempotent=True)
    engine.execute(run.id, executors)
    assert calls == ["release.tag", "join validate.dry", "deploy.quick"]  # no second submit
    assert ("step.reattaching", "validate.dry") in types(engine, run.id)
    assert engine.verify(run.id).ok


def verify_plan() -> list[StepSpec]:
    return [
        spec("deploy.quick"),
        spec(
            "verify.tests", overlap={"after": ["deploy.quick"], "join_before": "verify.announce"}, on_failure="rollback"
        ),
        spec("verify.logs", on_failure="rollback"),
        spec("verify.perms"),
        spec("verify.announce"),
        StepSpec(id="rollback.restore", stage="rollback", title="restore", action="test", contingency=True),
    ]


def test_queries_run_while_the_tests_run_and_the_tests_are_joined_before_the_announcement(engine: Engine) -> None:
    calls: list[str] = []
    executors = {
        **scripted(calls, "deploy.quick", "verify.logs", "verify.perms", "verify.announce", "rollback.restore"),
        "verify.tests": Job("verify.tests", calls, can_cancel=False),
    }
    run = engine.create_run("org", verify_plan())
    engine.execute(run.id, executors)
    assert calls == [
        "deploy.quick",
        "submit verify.tests",
        "verify.logs",
        "verify.perms",
        "join verify.tests",
        "verify.announce",
    ]


def test_failing_tests_joined_late_still_roll_back_before_the_announcement(engine: Engine) -> None:
    calls: list[str] = []
    executors = {
        **scripted(calls, "deploy.quick", "verify.logs", "verify.perms", "verify.announce", "rollback.restore"),
        "verify.tests": Job("verify.tests", calls, verdict="failed", can_cancel=False),
    }
    run = engine.create_run("org", verify_plan())
    with pytest.raises(StepFailed, match=r"verify.tests"):
        engine.execute(run.id, executors)
    assert calls[-2:] == ["join verify.tests", "rollback.restore"]
    assert "verify.announce" not in calls
    assert engine._run(run.id).state == "rolled_back"


def test_a_failed_query_joins_the_tests_first_and_their_failure_is_the_trigger(engine: Engine) -> None:
    calls: list[str] = []
    executors = {
        **scripted(
            calls,
            "deploy.quick",
            "verify.logs",
            "verify.perms",
            "verify.announce",
            "rollback.restore",
            fail="verify.logs",
        ),
        "verify.tests": Job("verify.tests", calls, verdict="failed", can_cancel=False),
    }
    run = engine.create_run("org", verify_plan())
    with pytest.raises(StepFailed, match=r"step verify.tests"):  # as without overlap: the tests come first
        engine.execute(run.id, executors)
    assert calls == ["deploy.quick", "submit verify.tests", "verify.logs", "join verify.tests", "rollback.restore"]


def test_a_pause_leaves_the_tests_running_and_resume_adopts_them(engine: Engine) -> None:
    calls: list[str] = []

    def pause(ctx: StepContext) -> StepOutcome:
        return StepOutcome.waiting_signoff("sign the smoke tests")

    executors = {
        **scripted(calls, "deploy.quick", "verify.logs", "verify.perms", "verify.announce", "rollback.restore"),
        "verify.tests": Job("verify.tests", calls, can_cancel=False),
    }
    executors["verify.logs"] = ScriptedStep("verify.logs", calls, idempotent=True, behaviour=pause)
    run = engine.create_run("org", verify_plan())
    with pytest.raises(Exception, match=r"sign the smoke tests"):
        engine.execute(run.id, executors)
    assert engine._step(run.id, "verify.tests").status == StepStatus.RUNNING
    assert "running in the background" in engine._step(run.id, "verify.tests").detail
    assert engine.status(run.id)["steps"][1].get("background") is True
    calls.clear()
    executors["verify.logs"] = ScriptedStep("verify.logs", calls)
    engine.execute(run.id, executors)
    assert calls == ["verify.logs", "verify.perms", "join verify.tests", "verify.announce"]
    assert engine.verify(run.id).ok


def test_join_points_and_replay_of_the_new_events() -> None:
    positions = {"a": 0, "b": 1, "c": 2, "d": 3}
    from cutover.engine.model import StepRecord

    def rec(sid: str) -> StepRecord:
        return StepRecord("r", positions[sid], StepSpec(sid, "s", sid, "t"), StepStatus.RUNNING, None, None, 1, "", {})

    at_place = Overlap(("a",), None)
    late = Overlap(("a",), "d")
    assert join_due(rec("b"), at_place, rec("b"), positions) and not join_due(rec("b"), at_place, rec("a"), positions)
    assert not join_due(rec("b"), late, rec("b"), positions) and not join_due(rec("b"), late, rec("c"), positions)
    assert join_due(rec("b"), late, rec("d"), positions) and join_due(rec("b"), late, None, positions)
    assert Overlap.of(StepSpec("x", "s", "x", "t", params={"overlap": {"after": "a"}})) == Overlap(("a",), None)
    assert Overlap.of(StepSpec("x", "s", "x", "t")) is None


def test_a_job_that_finished_before_its_cancel_is_recorded_as_such(engine: Engine) -> None:
    calls: list[str] = []
    executors = release_executors(calls, fail="backup.retrieve", cancel_note="it had already finished")
    run = engine.create_run("org", plan())
    with pytest.raises(StepFailed):
        engine.execute(run.id, executors)
    record = engine._step(run.id, "validate.dry")
    assert record.detail == "it had already finished (backup.retrieve failed)" and record.status == StepStatus.PENDING
    cancelled = next(e for e in engine.events(run.id) if e.type == "step.cancelled")
    assert cancelled.payload["note"] == "it had already finished" and cancelled.payload["error"] is None
