"""Escalation timing with an injected clock: the seed's Escalation Path table, deadlines, acknowledgement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cutover.notify.escalation import (
    Contact,
    due_escalations,
    escalation_state,
    max_severity,
    policy_for,
    severity_rank,
)
from cutover.runbook.models import Role

T0 = datetime(2026, 11, 27, 23, 0, tzinfo=UTC)
ROWS = [
    {"severity": "CRITICAL", "response_time": "15m", "path": ["deployment_lead", "cto"]},
    {"severity": "HIGH", "response_time": "1h", "path": ["deployment_lead", "engineering_manager"]},
    {"severity": "MEDIUM", "response_time": "4h", "path": ["customer_support", "deployment_lead"]},
    {"severity": "LOW", "response_time": "24h", "path": ["customer_support"]},
]
ROLES = {
    "deployment_lead": Role(title="Deployment Lead", name="Dana Lee", email="dana@solentra.com"),
    "cto": Role(title="CTO"),  # TBD everywhere, as in the seed
    "engineering_manager": Role(title="Engineering Manager", name="Eli Moss", phone="+1 555 0100"),
    "customer_support": Role(title="Customer Support"),
}


def test_policy_follows_the_seed_table_with_contacts_and_tbd_flags() -> None:
    critical = policy_for("CRITICAL", ROWS, ROLES)
    assert critical.response_time == timedelta(minutes=15)
    assert [c.role_id for c in critical.path] == ["deployment_lead", "cto"]
    assert not critical.path[0].tbd and critical.path[1].tbd
    assert critical.describe() == (
        "CRITICAL: respond within 15 min; Deployment Lead (Dana Lee, dana@solentra.com) → CTO (contact TBD)"
    )
    assert policy_for("HIGH", ROWS, ROLES).path[1].describe() == "Engineering Manager (Eli Moss, +1 555 0100)"


def test_a_severity_missing_from_the_table_uses_the_next_one_up() -> None:
    rows = [r for r in ROWS if r["severity"] != "MEDIUM"]
    policy = policy_for("MEDIUM", rows, ROLES)
    assert policy.severity == "MEDIUM" and policy.response_time == timedelta(hours=1)  # HIGH's row
    assert [c.role_id for c in policy.path] == ["deployment_lead", "engineering_manager"]


def test_critical_escalates_to_the_cto_after_15_minutes_then_runs_out() -> None:
    policy = policy_for("CRITICAL", ROWS, ROLES)
    at = escalation_state(policy, T0, T0 + timedelta(minutes=14, seconds=59))
    assert (at.level, at.state, at.deadline) == (0, "open", T0 + timedelta(minutes=15))
    at = escalation_state(policy, T0, T0 + timedelta(minutes=15))
    assert (at.level, at.state, at.deadline) == (1, "open", T0 + timedelta(minutes=30))
    at = escalation_state(policy, T0, T0 + timedelta(minutes=31))
    assert (at.level, at.state, at.exhausted) == (1, "overdue", True)
    assert at.overdue_by == timedelta(minutes=1)


def test_acknowledgement_freezes_the_level_and_clears_the_deadline() -> None:
    policy = policy_for("HIGH", ROWS, ROLES)
    acked = T0 + timedelta(minutes=20)
    state = escalation_state(policy, T0, T0 + timedelta(hours=5), acknowledged_at=acked)
    assert (state.level, state.state, state.deadline, state.exhausted) == (0, "acknowledged", None, False)
    # An acknowledgement recorded "in the future" of the clock does not count yet.
    early = escalation_state(policy, T0, T0 + timedelta(minutes=10), acknowledged_at=acked)
    assert early.state == "open"


def test_due_escalations_pages_each_level_once_and_catches_up_after_downtime() -> None:
    policy = policy_for("CRITICAL", ROWS, ROLES)
    assert due_escalations(policy, T0, T0, []) == [0]
    assert due_escalations(policy, T0, T0 + timedelta(minutes=5), [0]) == []
    assert due_escalations(policy, T0, T0 + timedelta(minutes=16), [0]) == [1]
    assert due_escalations(policy, T0, T0 + timedelta(hours=3), [0, 1]) == []  # nobody further on the path
    # The monitor was down for the whole window: both levels are due at once, in order.
    assert due_escalations(policy, T0, T0 + timedelta(minutes=40), []) == [0, 1]
    # Acknowledged in time: the second level is never due.
    assert due_escalations(policy, T0, T0 + timedelta(hours=1), [0], T0 + timedelta(minutes=3)) == []


def test_severity_order() -> None:
    assert [severity_rank(s) for s in ("LOW", "MEDIUM", "HIGH", "CRITICAL")] == [0, 1, 2, 3]
    assert max_severity(["HIGH", "LOW", "CRITICAL", "MEDIUM"]) == "CRITICAL"
    assert max_severity([]) is None
    with pytest.raises(ValueError, match="unknown severity"):
        severity_rank("SEVERE")


def test_contact_without_name_or_way_to_reach_is_tbd() -> None:
    assert Contact("x", "X", name="Pat", email="TBD", phone="TBD").tbd
    assert not Contact("x", "X", name="Pat", email="pat@x.com").tbd
