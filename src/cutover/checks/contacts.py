"""Contacts gate: every role the runbook marks required has a real person behind it (no "TBD")."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from cutover.checks.result import Evidence, GateResult, failed, passed

PLACEHOLDER = re.compile(r"(?i)^\s*(tbd|tba|todo|n/?a|\?+|-+|xxx+|none)?\s*$|\btbd\b")


@dataclass(frozen=True)
class Contact:
    role_id: str
    title: str
    name: str | None
    email: str | None
    phone: str | None
    required: bool


def _missing(value: str | None) -> bool:
    return value is None or bool(PLACEHOLDER.search(value))


def check_contacts(gate_id: str, title: str, contacts: list[Contact]) -> GateResult:
    problems: list[str] = []
    report: dict[str, Mapping[str, object]] = {}
    for contact in contacts:
        if not contact.required:
            continue
        gaps = [label for label, value in (("name", contact.name), ("email", contact.email)) if _missing(value)]
        if contact.phone is not None and _missing(contact.phone):
            gaps.append("phone")
        report[contact.role_id] = {"title": contact.title, "missing": gaps}
        if gaps:
            problems.append(f"{contact.title} ({'/'.join(gaps)})")
    evidence = Evidence.json("contacts.json", report)
    required = sum(1 for c in contacts if c.required)
    if not problems:
        return passed(gate_id, title, f"all {required} required role(s) have a named contact", evidence)
    return failed(
        gate_id, title, f"required role(s) still TBD: {', '.join(problems)}; fill them in the runbook `roles`", evidence
    )
