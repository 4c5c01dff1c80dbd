"""The contacts rule (docs/runbook.md `roles`): a name plus a usable email *or* phone; one rule for gate and runbook."""

import pytest

from cutover.checks.contacts import Contact, check_contacts, contact_problems, is_unset, reachable
from cutover.checks.result import GateStatus
from cutover.runbook.models import Role, is_unset_contact


def _gate(*contacts: Contact):
    return check_contacts("preflight.contacts", "Contacts", list(contacts))


def test_phone_tbd_next_to_a_valid_email_passes():
    result = _gate(Contact("qa", "QA Lead", "Quinn QA", "quinn@example.com", "TBD", True))
    assert result.status == GateStatus.PASSED, result.detail
    assert "fix:" not in result.detail


def test_email_tbd_next_to_a_valid_phone_passes():
    assert _gate(Contact("cto", "CTO", "Chris", "TBD", "+1 555 0199", True)).status == GateStatus.PASSED


def test_both_placeholders_fail():
    result = _gate(Contact("qa", "QA Lead", "Quinn QA", "TBD", "n/a", True))
    assert result.status == GateStatus.FAILED
    assert "QA Lead (no email or phone)" in result.detail


def test_invalid_email_with_a_valid_phone_passes_and_names_the_email():
    result = _gate(Contact("qa", "QA Lead", "Quinn QA", "quinn at example", "+1 555 0199", True))
    assert result.status == GateStatus.PASSED
    assert "QA Lead: email 'quinn at example' is not an email address" in result.detail


def test_invalid_email_and_invalid_phone_fail_with_both_reasons():
    result = _gate(Contact("qa", "QA Lead", "Quinn QA", "quinn", "call me", True))
    assert result.status == GateStatus.FAILED
    assert "email 'quinn' is not an email address" in result.detail
    assert "phone 'call me' is not a phone number" in result.detail


def test_no_name_fails_even_with_an_email():
    result = _gate(Contact("qa", "QA Lead", "TBD", "quinn@example.com", "TBD", True))
    assert result.status == GateStatus.FAILED and "QA Lead (no name)" in result.detail


def test_not_required_role_is_checked_only_on_the_escalation_path():
    loose = Contact("vp", "VP", "TBD", "TBD", "TBD", False)
    assert _gate(loose).status == GateStatus.PASSED
    paged = Contact("cto", "CTO", "TBD", "TBD", "TBD", False, on_escalation_path=True)
    result = _gate(paged)
    assert result.status == GateStatus.FAILED and "CTO (no name; no email or phone, on the escalation path)" in (
        result.detail
    )


@pytest.mark.parametrize("value", ["TBD", "tba", " n/a ", "NA", "todo", "?", "???", "-", "xxx", "", "TBD (ask Bob)"])
def test_placeholders(value: str):
    assert is_unset(value) and is_unset_contact(value)


@pytest.mark.parametrize("value", ["Dana Lee", "dana@example.com", "+1 555 0199", "1-800-NO-SOFTWARE"])
def test_real_values(value: str):
    assert not is_unset(value)


def test_the_runbook_role_uses_the_same_rule():
    cases = [
        ("Quinn", "quinn@example.com", "TBD"),
        ("Quinn", "TBD", "+44 20 7946 0958"),
        ("Quinn", "quinn", "+44 20 7946 0958"),
        ("Quinn", "quinn", "TBD"),
        ("TBD", "quinn@example.com", "+1 555 0199"),
    ]
    for name, email, phone in cases:
        role = Role(title="QA Lead", name=name, email=email, phone=phone)
        assert role.reachable == reachable(name, email, phone) == (not contact_problems(name, email, phone))
    assert [Role(title="x", name=n, email=e, phone=p).reachable for n, e, p in cases] == [
        True,
        True,
        True,
        False,
        False,
    ]
