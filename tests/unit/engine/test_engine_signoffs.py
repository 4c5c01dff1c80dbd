"""Sign-offs and waivers: roles, separation of duties, reviewers who authored the change, distinct people."""

from __future__ import annotations

import pytest

from cutover.engine import Engine, RoleRules, SignoffRule, StepSpec, StepStatus
from cutover.errors import Failure, UsageError

RULES = RoleRules(
    exclusive=(("deployment_lead", "security_reviewer"), ("developer", "security_reviewer")),
    change_authors=("Carol Dev", "carol@example.com"),
    waiver_roles=("deployment_lead",),
    role_holders={"deployment_lead": ("Dana Lead",)},
)


def _run(engine: Engine) -> str:
    plan = [
        StepSpec(
            "signoff.notes",
            "preflight",
            "Deployment notes",
            "signoff",
            kind="signoff",
            signoff=SignoffRule(("deployment_lead",)),
        ),
        StepSpec(
            "signoff.security-review",
            "preflight",
            "Security review",
            "signoff",
            kind="signoff",
            signoff=SignoffRule(("security_reviewer",), not_author=True, evidence_required=True),
        ),
        StepSpec(
            "signoff.code-review",
            "preflight",
            "Code review",
            "signoff",
            kind="signoff",
            signoff=SignoffRule(("developer", "security_reviewer"), min_signers=2, not_author=True),
        ),
        StepSpec("deploy.quick", "deploy", "Quick deploy", "sf.deploy"),
    ]
    return engine.create_run("prod", plan).id


def test_one_person_cannot_sign_two_exclusive_roles(engine: Engine) -> None:
    run_id = _run(engine)
    engine.signoff(run_id, "signoff.notes", by="alice", role="deployment_lead", rules=RULES)
    with pytest.raises(Failure) as caught:
        engine.signoff(
            run_id,
            "signoff.security-review",
            by="Alice ",
            role="security_reviewer",
            evidence="https://x/1",
            rules=RULES,
        )
    assert str(caught.value) == (
        "Alice already signed as deployment_lead; the runbook requires deployment_lead and security_reviewer "
        "to be different people"
    )
    assert [s.by for s in engine.store.signoffs(run_id)] == ["alice"]  # nothing recorded for the refusal
    engine.signoff(
        run_id, "signoff.security-review", by="sam", role="security_reviewer", evidence="https://x/1", rules=RULES
    )


def test_a_person_named_for_an_exclusive_role_in_the_runbook_is_refused(engine: Engine) -> None:
    run_id = _run(engine)
    with pytest.raises(Failure, match="dana lead is named as deployment_lead in the runbook"):
        engine.signoff(
            run_id,
            "signoff.security-review",
            by="dana lead",
            role="security_reviewer",
            evidence="https://x",
            rules=RULES,
        )


def test_an_author_cannot_review_their_own_change(engine: Engine) -> None:
    run_id = _run(engine)
    with pytest.raises(Failure, match="authored changes in this release"):
        engine.signoff(run_id, "signoff.code-review", by="carol@example.com", role="developer", rules=RULES)
    # ... but may sign a step that is not a review
    engine.signoff(run_id, "signoff.notes", by="Carol Dev", role="deployment_lead", rules=RoleRules())


def test_wrong_role_and_missing_evidence_are_usage_errors(engine: Engine) -> None:
    run_id = _run(engine)
    with pytest.raises(UsageError, match="accepts sign-off by role security_reviewer, not qa_lead"):
        engine.signoff(run_id, "signoff.security-review", by="sam", role="qa_lead", evidence="u", rules=RULES)
    with pytest.raises(UsageError, match="requires evidence"):
        engine.signoff(run_id, "signoff.security-review", by="sam", role="security_reviewer", rules=RULES)
    with pytest.raises(UsageError, match="not a sign-off step"):
        engine.signoff(run_id, "deploy.quick", by="sam", role="developer", rules=RULES)
    with pytest.raises(UsageError, match="no step"):
        engine.signoff(run_id, "signoff.nope", by="sam", role="developer", rules=RULES)


def test_min_signers_counts_distinct_people(engine: Engine) -> None:
    from cutover.engine.signoffs import evaluate

    run_id = _run(engine)
    rule = engine.store.step(run_id, "signoff.code-review").spec.signoff
    engine.signoff(run_id, "signoff.code-review", by="dev one", role="developer", rules=RULES)
    with pytest.raises(Failure, match=r"already signed signoff\.code-review"):
        engine.signoff(run_id, "signoff.code-review", by="Dev One", role="security_reviewer", rules=RULES)
    assert not evaluate(rule, engine.store.signoffs(run_id, "signoff.code-review")).satisfied
    engine.signoff(run_id, "signoff.code-review", by="dev two", role="developer", rules=RULES)
    state = evaluate(rule, engine.store.signoffs(run_id, "signoff.code-review"))
    assert state.satisfied and state.signers == ("dev one", "dev two")


def test_waiver_needs_reason_and_an_approver_in_an_allowed_role(engine: Engine) -> None:
    run_id = _run(engine)
    with pytest.raises(UsageError, match="--reason"):
        engine.waive(run_id, "deploy.quick", reason="  ", approver="Dana Lead", rules=RULES)
    with pytest.raises(Failure, match="mallory may not approve waivers"):
        engine.waive(run_id, "deploy.quick", reason="rehearsal only", approver="mallory", rules=RULES)
    # someone who signed as deployment_lead in this run may approve
    engine.signoff(run_id, "signoff.notes", by="alice", role="deployment_lead", rules=RULES)
    waiver = engine.waive(run_id, "deploy.quick", reason="rehearsal only", approver="alice", rules=RULES)
    assert waiver.approver == "alice"
    record = engine.store.step(run_id, "deploy.quick")
    assert record.status == StepStatus.WAIVED and "rehearsal only" in record.detail
    event = engine.events(run_id)[-1]
    assert event.type == "step.waived" and event.payload["approver"] == "alice"
    with pytest.raises(UsageError, match="already waived"):
        engine.waive(run_id, "deploy.quick", reason="again", approver="alice", rules=RULES)


def test_runbook_named_approver_may_waive(engine: Engine) -> None:
    run_id = _run(engine)
    engine.waive(run_id, "deploy.quick", reason="done by hand, ticket OPS-1", approver="dana lead", rules=RULES)
    assert engine.store.step(run_id, "deploy.quick").status == StepStatus.WAIVED


def test_two_people_waiving_at_once_record_one_waiver(engine: Engine, tmp_path, monkeypatch) -> None:
    """A second process may waive the step between this waiver's reads and its write: the step's status must be
    checked inside the write transaction, or the audit trail shows one step waived twice."""
    run_id = _run(engine)
    other = Engine(tmp_path)
    try:
        real_transaction = engine.store.transaction

        def other_waives_first():  # right before this waiver's transaction begins
            other.waive(run_id, "deploy.quick", reason="done by hand", approver="Dana Lead", rules=RULES)
            monkeypatch.setattr(engine.store, "transaction", real_transaction)
            return real_transaction()

        monkeypatch.setattr(engine.store, "transaction", other_waives_first)
        with pytest.raises(UsageError, match="already waived"):
            engine.waive(run_id, "deploy.quick", reason="me too", approver="Dana Lead", rules=RULES)
    finally:
        other.close()
    assert [e.type for e in engine.events(run_id)].count("step.waived") == 1


def test_a_sign_off_racing_a_waiver_is_refused(engine: Engine, tmp_path, monkeypatch) -> None:
    run_id = _run(engine)
    other = Engine(tmp_path)
    try:
        real_transaction = engine.store.transaction

        def other_waives_first():  # after signoff's own status check, before its transaction begins
            other.waive(run_id, "signoff.notes", reason="skipped", approver="Dana Lead", rules=RULES)
            monkeypatch.setattr(engine.store, "transaction", real_transaction)
            return real_transaction()

        monkeypatch.setattr(engine.store, "transaction", other_waives_first)
        with pytest.raises(UsageError, match="already waived"):
            engine.signoff(run_id, "signoff.notes", by="alice", role="deployment_lead", rules=RULES)
    finally:
        other.close()
    assert [e.type for e in engine.events(run_id)].count("signoff.recorded") == 0


def test_separation_of_duties_reads_the_chained_log_not_the_signoffs_table(engine: Engine) -> None:
    """Deleting alice's row from the signoffs table does not let her sign the exclusive role (issue 11)."""
    run_id = _run(engine)
    engine.signoff(run_id, "signoff.notes", by="alice", role="deployment_lead", rules=RULES)
    engine.store.db.execute("DELETE FROM signoffs WHERE by = 'alice'")
    assert engine.store.signoffs(run_id) == []
    assert [s.by for s in engine.store.logged_signoffs(run_id)] == ["alice"]
    with pytest.raises(Failure, match="already signed as deployment_lead"):
        engine.signoff(
            run_id, "signoff.security-review", by="alice", role="security_reviewer", evidence="https://x", rules=RULES
        )
    assert not engine.verify(run_id).ok  # and the deleted row itself is reported
