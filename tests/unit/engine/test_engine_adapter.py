"""The runbook → engine adapter (cutover.steps): specs, sign-off rules, separation of duties, executor lookup."""

from __future__ import annotations

from pathlib import Path

import pytest

from cutover.engine import SignoffRule
from cutover.errors import UsageError
from cutover.runbook import load_runbook
from cutover.runbook.plan import build_plan
from cutover.steps import build_executors, plan_to_specs, role_rules
from cutover.steps.registry import StepServices, executor_factory, register_action, unregister_action


@pytest.fixture
def elaro(tmp_path: Path):
    path = tmp_path / "cutover.yaml"
    path.write_text("target:\n  alias: production\n", encoding="utf-8")  # every other section: the seed defaults
    return load_runbook(path)


def test_specs_carry_the_plan_and_sign_off_rules(elaro) -> None:
    plan = build_plan(elaro)
    specs = {s.id: s for s in plan_to_specs(plan, elaro)}
    assert [s.id for s in plan] == list(specs)
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
    plan = build_plan(elaro)
    services = StepServices(project_dir=tmp_path, target_org="production")
    wanted = [p.id for p in plan if p.stage in ("guard", "backup")]
    with pytest.raises(UsageError) as caught:
        build_executors(plan, elaro, services, wanted)
    assert caught.value.message == (
        "no executor for action(s): sf.backup (backup.retrieve); sf.guard (guard.org-identity)"
    )
    assert "--only" in caught.value.hint
    signoffs = [p.id for p in plan if p.action == "signoff"]
    executors = build_executors(plan, elaro, services, signoffs)
    assert set(executors) == set(signoffs)


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
