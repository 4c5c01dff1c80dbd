"""The runner: order, resume after a crash (reattach / idempotent re-run / refusal), sign-off pauses, failures,
interruption by a signal, and selection with --only/--until semantics."""

from __future__ import annotations

import os
import signal

import pytest
from engine_helpers import ScriptedStep, specs

from cutover.engine import Engine, Interrupted, RunState, SignoffRule, StepContext, StepOutcome, StepSpec
from cutover.engine.runner import steps_to_execute
from cutover.errors import AwaitingSignoff, StepFailed, UsageError
from cutover.steps.signoff import SignoffStep


def _simulate_crash_during(engine: Engine, run_id: str, step_id: str, external_ids: dict | None = None) -> None:
    """What a SIGKILL leaves behind: the step `running`, the run `running`, no lock (or a stale one)."""
    with engine.store.transaction() as tx:
        engine.store.update_step(tx, run_id, step_id, status="running", attempt=1, external_ids=external_ids or {})
        engine.store.set_run_state(tx, run_id, RunState.RUNNING, pid=999999, host="gone")
        tx.append_event(run_id, "step.started", step_id, {"attempt": 1})


def _finish_first(engine: Engine, run_id: str, calls: list[str]) -> None:
    with engine.store.transaction() as tx:
        engine.store.update_step(tx, run_id, "a", status="passed", attempt=1)
        tx.append_event(run_id, "step.finished", "a", {"status": "passed"})


def test_steps_run_in_order_and_a_finished_run_is_not_rerun(engine: Engine) -> None:
    calls: list[str] = []
    run = engine.create_run("prod", specs("a", "b", "c"))
    steps = {i: ScriptedStep(i, calls) for i in "abc"}
    result = engine.execute(run.id, steps)
    assert result.state == RunState.SUCCEEDED and calls == ["a", "b", "c"]
    with pytest.raises(UsageError, match="succeeded and cannot be continued"):
        engine.execute(run.id, steps)
    assert calls == ["a", "b", "c"]
    assert engine.locks.read("prod") is None


def test_resume_refuses_to_rerun_a_non_idempotent_interrupted_step(engine: Engine) -> None:
    calls: list[str] = []
    run = engine.create_run("prod", specs("a", "b", "c"))
    _finish_first(engine, run.id, calls)
    _simulate_crash_during(engine, run.id, "b")
    with pytest.raises(StepFailed) as caught:
        engine.execute(run.id, {i: ScriptedStep(i, calls) for i in "bc"})
    assert calls == []  # neither a (finished) nor b (may have happened) ran again
    record = engine.store.step(run.id, "b")
    assert record.status == "failed"
    assert "may or may not have happened" in record.detail
    assert "cutover waive b --reason TEXT --approver WHO" in record.detail and "cutover retry b" in record.detail
    assert "cutover status" in caught.value.hint
    assert engine.store.get_run(run.id).state == RunState.FAILED
    assert engine.status(run.id)["next"].startswith(f"cutover retry b && cutover resume {run.id}")
    # the operator checked: retry, then resume runs b (and c) once
    engine.retry(run.id, "b")
    assert engine.store.get_run(run.id).state == RunState.PAUSED
    engine.execute(run.id, {i: ScriptedStep(i, calls) for i in "bc"})
    assert calls == ["b", "c"]


def test_resume_reruns_an_idempotent_interrupted_step(engine: Engine) -> None:
    calls: list[str] = []
    run = engine.create_run("prod", specs("a", "b"))
    _finish_first(engine, run.id, calls)
    _simulate_crash_during(engine, run.id, "b")
    engine.execute(run.id, {"b": ScriptedStep("b", calls, idempotent=True)})
    assert calls == ["b"]
    assert engine.store.step(run.id, "b").attempt == 2
    started = [e for e in engine.events(run.id) if e.type == "step.started" and e.step_id == "b"]
    assert started[-1].payload["after_interruption"] is True


class SubmitsJob:
    """Like a deploy: submits an external job, records its id before waiting, and can re-attach to it."""

    idempotent = False

    def __init__(self) -> None:
        self.submitted = 0
        self.reattached: list[dict] = []

    def run(self, ctx: StepContext) -> StepOutcome:
        self.submitted += 1
        ctx.set_external_id("deploy_id", "0Af000000000001AAA")
        return StepOutcome.passed("deployed")

    def reattach(self, ctx: StepContext, external_ids: dict) -> StepOutcome:
        self.reattached.append(external_ids)
        return StepOutcome.passed(f"re-attached to {external_ids['deploy_id']}")


def test_resume_reattaches_to_a_recorded_external_job(engine: Engine) -> None:
    calls: list[str] = []
    run = engine.create_run("prod", specs("a", "b"))
    _finish_first(engine, run.id, calls)
    _simulate_crash_during(engine, run.id, "b", {"deploy_id": "0Af000000000001AAA"})
    step = SubmitsJob()
    engine.execute(run.id, {"b": step})
    assert step.submitted == 0 and step.reattached == [{"deploy_id": "0Af000000000001AAA"}]
    assert engine.store.step(run.id, "b").detail == "re-attached to 0Af000000000001AAA"
    assert any(e.type == "step.reattaching" for e in engine.events(run.id))


def test_external_id_is_committed_before_the_step_returns(engine: Engine) -> None:
    run = engine.create_run("prod", specs("a"))
    seen: dict = {}

    def look(ctx: StepContext) -> StepOutcome:
        ctx.set_external_id("job", "J1")
        seen.update(Engine(engine.project_dir).store.step(run.id, "a").external_ids)  # another connection
        return StepOutcome.passed()

    engine.execute(run.id, {"a": ScriptedStep("a", [], behaviour=look)})
    assert seen == {"job": "J1"}


def test_missing_signoff_pauses_with_the_unblocking_command(engine: Engine) -> None:
    calls: list[str] = []
    plan = [
        *specs("a"),
        StepSpec(
            "signoff.security-review",
            "preflight",
            "Security review completed",
            "signoff",
            kind="signoff",
            signoff=SignoffRule(("security_reviewer",)),
        ),
        *specs("c"),
    ]
    run = engine.create_run("prod", plan)
    steps = {"a": ScriptedStep("a", calls), "signoff.security-review": SignoffStep(), "c": ScriptedStep("c", calls)}
    with pytest.raises(AwaitingSignoff) as caught:
        engine.execute(run.id, steps)
    assert caught.value.exit_code == 4
    assert caught.value.message == (
        "waiting for sign-off: Security review completed — run: cutover signoff signoff.security-review "
        "--by <name> --role security_reviewer"
    )
    assert f"cutover resume {run.id}" in caught.value.hint
    assert engine.store.get_run(run.id).state == RunState.PAUSED
    assert engine.store.step(run.id, "signoff.security-review").status == "waiting_signoff"
    assert engine.status(run.id)["next"] == (
        "cutover signoff signoff.security-review --by <name> --role security_reviewer"
    )
    assert calls == ["a"] and engine.locks.read("prod") is None
    engine.signoff(run.id, "signoff.security-review", by="sam", role="security_reviewer")
    result = engine.execute(run.id, steps)
    assert result.state == RunState.SUCCEEDED and calls == ["a", "c"]


def test_blocking_failure_fails_the_run_non_blocking_is_reported(engine: Engine) -> None:
    calls: list[str] = []
    plan = [
        StepSpec("soft", "s", "Soft", "t", blocking=False),
        StepSpec("hard", "s", "Hard", "t"),
        StepSpec("after", "s", "After", "t"),
    ]
    run = engine.create_run("prod", plan)
    fail = lambda ctx: StepOutcome.failed("exit code 2: boom")  # noqa: E731
    steps = {
        "soft": ScriptedStep("soft", calls, behaviour=fail),
        "hard": ScriptedStep("hard", calls, behaviour=fail),
        "after": ScriptedStep("after", calls),
    }
    with pytest.raises(StepFailed, match=r"step hard \(Hard\) failed: exit code 2: boom"):
        engine.execute(run.id, steps)
    assert calls == ["soft", "hard"]
    engine.waive(run.id, "hard", reason="known flaky, checked by hand", approver="dana")
    result = engine.execute(run.id, steps)
    assert result.state == RunState.SUCCEEDED and result.failed_nonblocking == ("soft",)
    assert calls == ["soft", "hard", "after"]  # the non-blocking failure is not retried by resume


def test_a_crashing_step_fails_cleanly_with_its_traceback_as_evidence(engine: Engine) -> None:
    run = engine.create_run("prod", specs("a"))

    def crash(ctx):
        raise KeyError("boom")

    with pytest.raises(StepFailed, match="internal error in step: KeyError"):
        engine.execute(run.id, {"a": ScriptedStep("a", [], behaviour=crash)})
    names = [item["name"] for item in engine.store.evidence(run.id, "a")]
    assert names == ["traceback.txt"]
    assert engine.locks.read("prod") is None


def test_sigterm_leaves_the_step_running_releases_the_lock_and_resume_continues(engine: Engine) -> None:
    calls: list[str] = []
    run = engine.create_run("prod", specs("a", "b"))
    before = signal.getsignal(signal.SIGTERM)

    def terminate(ctx):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("the signal should have interrupted the step")

    with pytest.raises(Interrupted) as caught:
        engine.execute(
            run.id, {"a": ScriptedStep("a", calls, behaviour=terminate, idempotent=True), "b": ScriptedStep("b", calls)}
        )
    assert caught.value.exit_code == 130 and "SIGTERM" in caught.value.message
    assert engine.store.step(run.id, "a").status == "running"
    assert engine.store.get_run(run.id).state == RunState.PAUSED
    assert engine.locks.read("prod") is None
    assert signal.getsignal(signal.SIGTERM) == before  # handler restored
    engine.execute(run.id, {"a": ScriptedStep("a", calls, idempotent=True), "b": ScriptedStep("b", calls)})
    assert calls == ["a", "a", "b"]
    assert engine.verify(run.id).ok


def test_selection_never_skips_ahead(engine: Engine) -> None:
    calls: list[str] = []
    plan = [
        StepSpec("pre.a", "preflight", "A", "t"),
        StepSpec("dep.b", "deploy", "B", "t"),
        StepSpec("ver.c", "verify", "C", "t"),
    ]
    run = engine.create_run("prod", plan)
    steps = {s.id: ScriptedStep(s.id, calls) for s in plan}
    only_deploy = lambda spec: spec.stage == "deploy"  # noqa: E731
    assert steps_to_execute(engine.steps(run.id), only_deploy) == []
    result = engine.execute(run.id, steps, select=only_deploy)
    assert calls == [] and result.state == RunState.PAUSED and "stopped before pre.a" in result.message
    result = engine.execute(run.id, steps, select=lambda spec: spec.stage in ("preflight", "deploy"))
    assert calls == ["pre.a", "dep.b"] and result.state == RunState.PAUSED
    assert engine.execute(run.id, steps).state == RunState.SUCCEEDED
    assert calls == ["pre.a", "dep.b", "ver.c"]


def test_run_command_captures_redacted_evidence(engine: Engine) -> None:
    run = engine.create_run("prod", specs("a"))
    results = []

    def command(ctx: StepContext) -> StepOutcome:
        results.append(
            ctx.run_command(["sh", "-c", "echo out 00D000000000001AAA!AQ8.fake.token; echo err >&2; exit 3"])
        )
        results.append(ctx.run_command(["sleep", "5"], timeout=0.2, name="slow"))
        return StepOutcome.passed()

    engine.execute(run.id, {"a": ScriptedStep("a", [], behaviour=command)})
    first, slow = results
    assert first.returncode == 3 and first.stdout == "out [REDACTED]\n" and first.stderr == "err\n"
    assert slow.timed_out and not slow.ok and slow.duration < 4
    names = [e["name"] for e in engine.store.evidence(run.id, "a")]
    assert names == ["command.stdout.txt", "command.stderr.txt", "slow.stdout.txt", "slow.stderr.txt"]
    assert first.evidence[0].path.read_text() == "out [REDACTED]\n"


def test_evidence_is_never_overwritten_by_a_second_attempt(engine: Engine) -> None:
    run = engine.create_run("prod", specs("a"))

    def record(ctx: StepContext) -> StepOutcome:
        ctx.record_evidence("out.txt", f"attempt {ctx.attempt}")
        return StepOutcome.failed("again") if ctx.attempt == 1 else StepOutcome.passed()

    step = ScriptedStep("a", [], behaviour=record)
    with pytest.raises(StepFailed):
        engine.execute(run.id, {"a": step})
    engine.retry(run.id, "a")
    engine.execute(run.id, {"a": step})
    items = engine.store.evidence(run.id, "a")
    assert [i["name"] for i in items] == ["out.txt", "out-2.txt"]
    assert (engine.cutover_dir / items[0]["relpath"]).read_text() == "attempt 1"
    assert engine.verify(run.id).ok


def test_record_file_redacts_text_and_copies_binary(engine: Engine, tmp_path) -> None:
    run = engine.create_run("prod", specs("a"))
    text = tmp_path / "deploy.log"
    text.write_text("sessionId 00D000000000001AAA!AQ8.fake.token\n")
    binary = tmp_path / "backup.tar.gz"
    binary.write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)))
    stored = []

    def record(ctx: StepContext) -> StepOutcome:
        stored.append(ctx.record_file("deploy.log", text))
        stored.append(ctx.record_file("backup.tar.gz", binary))
        return StepOutcome.passed()

    engine.execute(run.id, {"a": ScriptedStep("a", [], behaviour=record)})
    log, archive = stored
    assert log.path.read_text() == "sessionId [REDACTED]\n"
    assert archive.path.read_bytes() == binary.read_bytes()
    assert engine.verify(run.id).ok


def test_a_step_may_end_the_run_rolled_back(engine: Engine) -> None:
    run = engine.create_run("prod", specs("deploy", "rollback"))

    def rolled_back(ctx: StepContext) -> StepOutcome:
        ctx.request_run_state(RunState.ROLLED_BACK)
        return StepOutcome.passed("backup redeployed")

    result = engine.execute(
        run.id, {"deploy": ScriptedStep("deploy", []), "rollback": ScriptedStep("rollback", [], behaviour=rolled_back)}
    )
    assert result.state == RunState.ROLLED_BACK
    assert engine.status(run.id)["state"] == "rolled_back"


def test_abort_closes_an_open_run(engine: Engine) -> None:
    run = engine.create_run("prod", specs("a"))
    engine.abort(run.id, "release cancelled")
    assert engine.store.get_run(run.id).state == RunState.ABORTED
    assert engine.open_run("prod") is None
    with pytest.raises(UsageError, match="aborted"):
        engine.execute(run.id, {"a": ScriptedStep("a", [])})
    assert engine.events(run.id)[-1].payload["reason"] == "release cancelled"


def _rollback_plan() -> list[StepSpec]:
    return [
        StepSpec("deploy", "deploy", "Deploy", "t"),
        StepSpec("verify", "verify", "Verify", "t", on_failure="rollback"),
        StepSpec("monitor", "monitor", "Monitor", "t"),
        StepSpec("rollback.decide", "rollback", "Decide", "t", contingency=True),
        StepSpec("rollback.redeploy", "rollback", "Redeploy the backup", "t", contingency=True),
    ]


def test_contingency_steps_are_skipped_when_all_goes_well(engine: Engine) -> None:
    calls: list[str] = []
    run = engine.create_run("prod", _rollback_plan())
    steps = {s.id: ScriptedStep(s.id, calls) for s in _rollback_plan()}
    assert engine.execute(run.id, steps).state == RunState.SUCCEEDED
    assert calls == ["deploy", "verify", "monitor"]
    statuses = {s.id: s.status for s in engine.steps(run.id)}
    assert statuses["rollback.decide"] == statuses["rollback.redeploy"] == "skipped"


def test_a_failed_verification_rolls_back_and_resumes_mid_rollback(engine: Engine) -> None:
    calls: list[str] = []
    run = engine.create_run("prod", _rollback_plan())
    fail = lambda ctx: StepOutcome.failed("2 Apex tests failed")  # noqa: E731
    crash = lambda ctx: (_ for _ in ()).throw(_SimulatedCrash())  # noqa: E731
    steps = {s.id: ScriptedStep(s.id, calls) for s in _rollback_plan()}
    steps["verify"] = ScriptedStep("verify", calls, behaviour=fail)
    steps["rollback.redeploy"] = ScriptedStep("rollback.redeploy", calls, behaviour=crash, idempotent=True)
    with pytest.raises(_SimulatedCrash):  # the process "dies" in the middle of the rollback
        engine.execute(run.id, steps)
    assert calls == ["deploy", "verify", "rollback.decide", "rollback.redeploy"]
    assert engine.store.step(run.id, "rollback.redeploy").status == "running"

    steps["rollback.redeploy"] = ScriptedStep("rollback.redeploy", calls, idempotent=True)
    with pytest.raises(StepFailed, match=r"step verify \(Verify\) failed: 2 Apex tests failed; the run was rolled"):
        engine.execute(run.id, steps)
    assert calls[4:] == ["rollback.redeploy"]  # decide is not run again; monitor never runs
    assert engine.store.get_run(run.id).state == RunState.ROLLED_BACK
    statuses = {s.id: s.status for s in engine.steps(run.id)}
    assert statuses == {
        "deploy": "passed",
        "verify": "failed",
        "monitor": "skipped",
        "rollback.decide": "passed",
        "rollback.redeploy": "passed",
    }
    types = [e.type for e in engine.events(run.id)]
    assert "rollback.started" in types and "rollback.resumed" in types and types[-1] == "run.rolled_back"
    assert engine.verify(run.id).ok


def test_contingency_executors_are_required_up_front(engine: Engine) -> None:
    run = engine.create_run("prod", _rollback_plan())
    needed = [r.id for r in steps_to_execute(engine.steps(run.id))]
    assert needed == ["deploy", "verify", "monitor", "rollback.decide", "rollback.redeploy"]
    only_deploy = [r.id for r in steps_to_execute(engine.steps(run.id), lambda spec: spec.stage == "deploy")]
    assert only_deploy == ["deploy"]  # verification (the trigger) will not run: no rollback needed yet


def test_on_failure_must_be_known() -> None:
    with pytest.raises(ValueError, match="on_failure"):
        StepSpec("x", "s", "X", "t", on_failure="retry")


class _SimulatedCrash(BaseException):
    """Stands in for SIGKILL: nothing after it runs (a BaseException, so the runner does not record a failure)."""


def test_a_rollback_without_executors_fails_the_run_clearly(engine: Engine) -> None:
    calls: list[str] = []
    run = engine.create_run("prod", _rollback_plan())
    steps = {s.id: ScriptedStep(s.id, calls) for s in _rollback_plan() if not s.contingency}
    steps["verify"] = ScriptedStep("verify", calls, behaviour=lambda ctx: StepOutcome.failed("tests failed"))
    with pytest.raises(StepFailed, match="automatic rollback impossible") as caught:
        engine.execute(run.id, steps)
    assert "rollback.decide" in caught.value.message and "by hand" in caught.value.message
    assert engine.store.get_run(run.id).state == RunState.FAILED


def test_the_rollback_decision_needs_no_approval_when_verification_triggered_it(engine: Engine) -> None:
    calls: list[str] = []
    decide = StepSpec(
        "rollback.decide",
        "rollback",
        "Decide to roll back",
        "signoff",
        kind="signoff",
        params={"automatic_on_verification_failure": True},
        signoff=SignoffRule(("deployment_lead",)),
        contingency=True,
    )
    plan = [StepSpec("verify", "verify", "Verify", "t", on_failure="rollback"), decide]
    run = engine.create_run("prod", plan)
    fail = lambda ctx: StepOutcome.failed("coverage 71% < 85%")  # noqa: E731
    with pytest.raises(StepFailed, match="rolled back"):
        engine.execute(
            run.id, {"verify": ScriptedStep("verify", calls, behaviour=fail), "rollback.decide": SignoffStep()}
        )
    record = engine.store.step(run.id, "rollback.decide")
    assert record.status == "passed" and record.detail.startswith("automatic rollback: verify failed verification")


def test_a_missing_program_is_a_failed_command_not_a_crash(engine: Engine, tmp_path) -> None:
    run = engine.create_run("prod", specs("a"))
    results = []

    def command(ctx: StepContext) -> StepOutcome:
        results.append(ctx.run_command(["no-such-program-xyz", "--flag"]))
        return StepOutcome.passed()

    engine.execute(run.id, {"a": ScriptedStep("a", [], behaviour=command)})
    [result] = results
    assert result.returncode == 127 and not result.ok
    assert "cannot run no-such-program-xyz --flag" in result.stderr
    assert [e["name"] for e in engine.store.evidence(run.id, "a")] == ["command.stderr.txt"]


def test_a_timed_out_command_leaves_no_child_behind_even_one_that_ignores_sigterm(engine: Engine, tmp_path) -> None:
    import sys
    import time
    from contextlib import suppress
    from pathlib import Path

    pid_file = tmp_path / "child.pid"
    script = (
        "import os, signal, time\n"
        "if os.fork() == 0:\n"
        "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"    open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
        "time.sleep(30)\n"
    )
    run = engine.create_run("prod", specs("a"))
    results = []

    def command(ctx: StepContext) -> StepOutcome:
        results.append(ctx.run_command([sys.executable, "-c", script], timeout=1.0, name="slow"))
        return StepOutcome.passed()

    engine.execute(run.id, {"a": ScriptedStep("a", [], behaviour=command)})
    assert results[0].timed_out
    child = int(pid_file.read_text())
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                break
            if Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z":
                break  # killed, waiting for init to reap it
            time.sleep(0.1)
        else:
            raise AssertionError("the child that ignored SIGTERM is still running")
    finally:
        with suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


def test_a_second_ctrl_c_while_stopping_still_ends_in_a_resumable_pause(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11: an impatient second SIGINT while the first is being recorded must not escape as a traceback."""
    calls: list[str] = []
    recording = engine.store.set_run_state

    def second_ctrl_c(tx, run_id, state, **kwargs):  # type: ignore[no-untyped-def]
        if str(kwargs.get("note", "")).startswith("interrupted"):
            os.kill(os.getpid(), signal.SIGINT)  # arrives while the first interruption is being recorded
        return recording(tx, run_id, state, **kwargs)

    def first_ctrl_c(ctx: StepContext) -> StepOutcome:
        os.kill(os.getpid(), signal.SIGINT)
        return StepOutcome.passed()

    monkeypatch.setattr(engine.store, "set_run_state", second_ctrl_c)
    run = engine.create_run("org", specs("a", "b"))
    with pytest.raises(Interrupted):
        engine.execute(run.id, {"a": ScriptedStep("a", calls, behaviour=first_ctrl_c), "b": ScriptedStep("b", calls)})
    assert engine.store.get_run(run.id).state == RunState.PAUSED
    assert engine.store.step(run.id, "a").status.value == "running"
    monkeypatch.setattr(engine.store, "set_run_state", recording)
    result = engine.execute(run.id, {"a": ScriptedStep("a", calls, idempotent=True), "b": ScriptedStep("b", calls)})
    assert result.state == RunState.SUCCEEDED and engine.verify(run.id).ok
