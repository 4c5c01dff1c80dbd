"""The runbook → engine adapter (cutover.steps): specs, sign-off rules, separation of duties, executor lookup."""

from __future__ import annotations

from pathlib import Path

import pytest

from cutover.engine import SignoffRule
from cutover.errors import UsageError
from cutover.runbook import load_runbook, template_text
from cutover.runbook.plan import build_plan
from cutover.steps import build_executors, plan_to_specs, role_rules
from cutover.steps.registry import StepServices, executor_factory, register_action, unregister_action


@pytest.fixture
def elaro(tmp_path: Path):
    path = tmp_path / "cutover.yaml"
    path.write_text(template_text(), encoding="utf-8")  # the Elaro seed runbook
    return load_runbook(path)


def test_specs_carry_the_plan_and_sign_off_rules(elaro) -> None:
    plan = build_plan(elaro)
    specs = {s.id: s for s in plan_to_specs(plan, elaro)}
    ids = list(specs)
    assert ids[: len(plan)] == [s.id for s in plan]
    rollback = [specs[i] for i in ids[len(plan) :]]
    assert [s.id for s in rollback][:2] == ["rollback.decide", "rollback.redeploy-backup"]
    assert all(s.contingency and s.stage == "rollback" for s in rollback)
    assert not any(specs[i].contingency for i in ids[: len(plan)])
    triggers = sorted(i for i, s in specs.items() if s.on_failure == "rollback")
    assert triggers == ["verify.apex-logs", "verify.apex-tests", "verify.scheduled-jobs"]
    assert specs["signoff.security-review"].signoff == SignoffRule(
        roles=("security_reviewer",), min_signers=1, not_author=True, evidence_required=True
    )
    assert specs["signoff.support-briefed"].signoff == SignoffRule(roles=("customer_support",))
    reviews = specs["preflight.reviews"]
    assert reviews.kind == "automated" and reviews.signoff.min_signers == 2 and reviews.signoff.not_author
    assert "reviewer" in reviews.signoff.roles
    checklist = specs["post_deploy.checklist-1w"]
    assert checklist.signoff.roles == ("deployment_lead",) and checklist.blocking is False
    assert specs["preflight.lint"].signoff is None


def test_role_rules_turn_exclusive_groups_into_pairs(elaro) -> None:
    rules = role_rules(elaro, ["Carol <carol@example.com>"])
    assert ("deployment_lead", "security_reviewer") in rules.exclusive
    assert ("developer", "security_reviewer") in rules.exclusive
    assert rules.waiver_roles == ("deployment_lead",)
    assert rules.role_holders == {}  # every contact is TBD in the seed
    assert rules.change_authors == ("Carol <carol@example.com>",)


def test_build_executors_names_every_missing_action(elaro, tmp_path: Path) -> None:
    from dataclasses import replace

    plan = build_plan(elaro)
    signoffs = [p for p in plan if p.action == "signoff"]
    future = [replace(signoffs[0], id="future.one", action="test.not-yet"), replace(signoffs[1], id="future.two")]
    future[1] = replace(future[1], action="test.not-yet", stage="later")
    services = StepServices(project_dir=tmp_path, target_org="production")
    with pytest.raises(UsageError) as caught:
        build_executors([*signoffs, *future], elaro, services, ["future.one", "future.two", signoffs[0].id])
    assert caught.value.message == "no executor for action(s): test.not-yet (future.one, future.two)"
    assert "--only" in caught.value.hint and "later" in caught.value.hint
    executors = build_executors(plan, elaro, services, [p.id for p in signoffs])
    assert set(executors) == {p.id for p in signoffs}


def test_registry_refuses_silent_replacement() -> None:
    def factory(plan_step, runbook, services):
        return None

    register_action("test.only", factory)
    try:
        assert executor_factory("test.only") is factory
        with pytest.raises(ValueError, match="already registered"):
            register_action("test.only", lambda *a: None)
        register_action("test.only", factory)  # the same factory again is fine (module re-import)
    finally:
        unregister_action("test.only")
    assert executor_factory("test.only") is None


def test_no_rollback_steps_without_a_deploy_and_none_when_rollback_is_manual(tmp_path: Path) -> None:
    path = tmp_path / "cutover.yaml"
    path.write_text("target:\n  alias: production\nstages: [preflight]\n", encoding="utf-8")
    preflight_only = load_runbook(path)
    assert not any(s.contingency for s in plan_to_specs(build_plan(preflight_only), preflight_only))
    path.write_text("target:\n  alias: production\nrollback:\n  automatic_on_verification_failure: false\n")
    manual = load_runbook(path)
    specs = plan_to_specs(build_plan(manual), manual)
    assert any(s.contingency for s in specs) and all(s.on_failure == "stop" for s in specs)
