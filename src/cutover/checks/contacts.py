"""Contacts gate, and the one rule for "can we reach this person": a name plus a usable email *or* phone.

The rule lives here and nowhere else: the runbook's `Role.reachable` and `Runbook.problems()` call `reachable()`,
the gate calls `contact_problems()`. Placeholders (`TBD`, `TBA`, `n/a`, `todo`, `none`, `?`, `-`, `xxx`, empty, or
any value with the word TBD in it) count as unset. An email must look like an address (`name@domain.tld`); a phone
must hold at least three digits (`+1 555 0199`, `1-800-NO-SOFTWARE`). A malformed email next to a usable phone
still reaches the person: the gate passes and names the email to fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from cutover.checks.result import Evidence, GateResult, failed, passed

PLACEHOLDER = re.compile(r"(?i)^\s*(tbd|tba|todo|n/?a|none|unknown|\?+|-+|x{3,})?\s*$|\b(tbd|tba)\b")
EMAIL = re.compile(r"^(mailto:)?[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;.]{2,}$", re.IGNORECASE)
MIN_PHONE_DIGITS = 3


def is_unset(value: str | None) -> bool:
    """True for a missing value or a placeholder (`TBD`, `n/a`, `?`, empty...)."""
    return value is None or bool(PLACEHOLDER.search(value))


def usable_email(value: str | None) -> bool:
    return not is_unset(value) and bool(EMAIL.match((value or "").strip()))


def usable_phone(value: str | None) -> bool:
    return not is_unset(value) and sum(ch.isdigit() for ch in value or "") >= MIN_PHONE_DIGITS


def contact_problems(name: str | None, email: str | None, phone: str | None) -> list[str]:
    """Why this person cannot be reached (empty: a name and a usable email or phone)."""
    problems: list[str] = []
    if is_unset(name):
        problems.append("no name")
    if not usable_email(email) and not usable_phone(phone):
        reasons = [_channel_problem("email", email), _channel_problem("phone", phone)]
        problems.append("no email or phone" if all(r.endswith("unset") for r in reasons) else "; ".join(reasons))
    return problems


def reachable(name: str | None, email: str | None, phone: str | None) -> bool:
    return not contact_problems(name, email, phone)


def _channel_problem(label: str, value: str | None) -> str:
    if is_unset(value):
        return f"{label} unset"
    what = "not an email address" if label == "email" else f"not a phone number (fewer than {MIN_PHONE_DIGITS} digits)"
    return f"{label} {value.strip()!r} is {what}"  # type: ignore[union-attr]


@dataclass(frozen=True)
class Contact:
    role_id: str
    title: str
    name: str | None
    email: str | None
    phone: str | None
    required: bool
    on_escalation_path: bool = False

    @property
    def checked(self) -> bool:
        return self.required or self.on_escalation_path


def check_contacts(gate_id: str, title: str, contacts: list[Contact]) -> GateResult:
    """Every required role, and everyone on an escalation path, has a name plus a usable email or phone."""
    problems: list[str] = []
    notes: list[str] = []
    report: dict[str, Mapping[str, object]] = {}
    for contact in contacts:
        if not contact.checked:
            continue
        gaps = contact_problems(contact.name, contact.email, contact.phone)
        report[contact.role_id] = {"title": contact.title, "problems": gaps, "required": contact.required}
        why = "" if contact.required else ", on the escalation path"
        if gaps:
            problems.append(f"{contact.title} ({'; '.join(gaps)}{why})")
        elif not is_unset(contact.email) and not usable_email(contact.email):
            notes.append(f"{contact.title}: {_channel_problem('email', contact.email)}")
    evidence = Evidence.json("contacts.json", report)
    noted = f"; fix: {'; '.join(notes)}" if notes else ""
    if not problems:
        return passed(
            gate_id, title, f"all {len(report)} role(s) to reach have a name and an email or phone{noted}", evidence
        )
    return failed(
        gate_id,
        title,
        f"cannot reach: {', '.join(problems)}; give each a name and an email or phone in the runbook `roles`{noted}",
        evidence,
    )
