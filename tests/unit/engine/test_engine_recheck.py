"""A run that failed only on read-only checks (idempotent steps, e.g. preflight gates) is continued, not restarted:
the failed checks are re-checked, and the sign-offs given meanwhile stay with the run. A run that ever started a
step with a side effect is not continued that way."""

from __future__ import annotations

import pytest
from engine_helpers import ScriptedStep, specs

from cutover.engine import Engine, RunState, StepContext, StepOutcome, StepSpec
from cutover.errors import StepFailed


def _flaky_gate(state: dict[str, bool]):
    def behaviour(_ctx: StepContext) -> StepOutcome:
        return StepOutcome.passed("ok") if state["fixed"] else StepOutcome.failed("2 approvals needed")

    return behaviour


def test_a_failed_gate_is_rechecked_and_the_same_run_continues(engine: Engine) -> None:
    calls: list[str] = []
    state = {"fixed": False}
    run = engine.create_run("prod", specs("gate", "deploy"), git_head="abc", runbook_sha256="r1")
    steps = {
        "gate": ScriptedStep("gate", calls, idempotent=True, behaviour=_flaky_gate(state)),
        "deploy": ScriptedStep("deploy", calls),
    }
    with pytest.raises(StepFailed):
        engine.execute(run.id, steps)
    assert engine.store.get_run(run.id).state == RunState.FAILED and calls == ["gate"]

    # same commit and runbook, nothing with a side effect started: the failed run is the one to continue
    assert engine.continuable_run("prod", git_head="abc", runbook_sha256="r1").id == run.id
    # another commit or runbook: start afresh
    assert engine.continuable_run("prod", git_head="def", runbook_sha256="r1") is None
    assert engine.continuable_run("prod", git_head="abc", runbook_sha256="r2") is None

    state["fixed"] = True
    result = engine.execute(run.id, steps)
    assert result.state == RunState.SUCCEEDED
    assert calls == ["gate", "gate", "deploy"]
    assert engine.store.step(run.id, "gate").attempt == 2
    assert engine.verify(run.id).ok


def test_a_failed_step_with_a_side_effect_still_needs_retry(engine: Engine) -> None:
    calls: list[str] = []
    run = engine.create_run("prod", specs("deploy", "verify"), git_head="abc", runbook_sha256="r1")
    steps = {
        "deploy": ScriptedStep("deploy", calls, behaviour=lambda _ctx: StepOutcome.failed("deploy failed")),
        "verify": ScriptedStep("verify", calls, idempotent=True),
    }
    with pytest.raises(StepFailed):
        engine.execute(run.id, steps)
    assert engine.continuable_run("prod", git_head="abc", runbook_sha256="r1") is None
    with pytest.raises(Exception, match="cannot be continued"):
        engine.execute(run.id, steps)
    assert calls == ["deploy"]


def test_a_run_that_started_a_side_effect_earlier_is_not_continuable(engine: Engine) -> None:
    calls: list[str] = []
    spec_list = [
        StepSpec(id="release", stage="s", title="Release", action="test"),
        StepSpec(id="gate", stage="s", title="Gate", action="test"),
    ]
    run = engine.create_run("prod", spec_list, git_head="abc", runbook_sha256="r1")
    steps = {
        "release": ScriptedStep("release", calls),  # not idempotent: it changed something outside
        "gate": ScriptedStep("gate", calls, idempotent=True, behaviour=lambda _ctx: StepOutcome.failed("no")),
    }
    with pytest.raises(StepFailed):
        engine.execute(run.id, steps)
    assert engine.continuable_run("prod", git_head="abc", runbook_sha256="r1") is None


def test_status_says_which_roles_can_unblock_a_signoff_step(engine: Engine) -> None:
    from cutover.engine import SignoffRule

    spec = StepSpec(
        id="smoke",
        stage="verify",
        title="Smoke tests",
        action="signoff",
        kind="signoff",
        signoff=SignoffRule(roles=("qa_lead",), evidence_required=True),
    )
    run = engine.create_run("prod", [spec])
    step = engine.status(run.id)["steps"][0]
    assert step["signoff"] == {"roles": ["qa_lead"], "min_signers": 1, "not_author": False, "evidence_required": True}
