"""The runbook's Escalation Path as a pure policy: who is paged for an alert, by when, and what happens when nobody
acknowledges it in time. No I/O and no clock of its own: callers pass `now`, so the timing is unit-tested exactly.

Seed table ("Monitoring & Alerts > Escalation Path")::

    CRITICAL  15 minutes  Deployment Lead → CTO
    HIGH      1 hour      Deployment Lead → Engineering Manager
    MEDIUM    4 hours     Support Team → Deployment Lead
    LOW       24 hours    Support Team

An alert raised at T pages the first role of its row. Each role has the row's response time to acknowledge; if the
alert is still unacknowledged at T + k × response_time, it escalates to role k (k = 1, 2, ...). When the last role's
time runs out too, the path is *exhausted*: the alert stays open and `cutover alerts` shows it as overdue (the
runbook has nobody further to page for that severity). An acknowledgement stops the escalation for good.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cutover.runbook.models import EscalationRow, Role

SEVERITIES: tuple[str, ...] = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

#: Used when the runbook has no row for a severity: the seed's LOW row is the mildest promise it makes.
DEFAULT_RESPONSE = timedelta(hours=24)


def severity_rank(severity: str) -> int:
    """LOW 0 < MEDIUM 1 < HIGH 2 < CRITICAL 3. Raises ValueError for anything else."""
    try:
        return _RANK[severity.upper()]
    except (KeyError, AttributeError):
        raise ValueError(f"unknown severity {severity!r} (one of {', '.join(SEVERITIES)})") from None


def at_least(severity: str, minimum: str) -> bool:
    return severity_rank(severity) >= severity_rank(minimum)


def max_severity(severities: Iterable[str]) -> str | None:
    ranked = sorted(severities, key=severity_rank)
    return ranked[-1] if ranked else None


@dataclass(frozen=True)
class Contact:
    """A role on the escalation path with the person the runbook names for it. `tbd` = nobody filled it in."""

    role_id: str
    title: str
    name: str = "TBD"
    email: str = "TBD"
    phone: str = "TBD"

    @property
    def tbd(self) -> bool:
        from cutover.runbook.models import is_unset_contact

        return is_unset_contact(self.name) or (is_unset_contact(self.email) and is_unset_contact(self.phone))

    def describe(self) -> str:
        """'Deployment Lead (Dana Lee, dana@x.com)' or 'CTO (contact TBD)'."""
        if self.tbd:
            return f"{self.title} (contact TBD)"
        from cutover.runbook.models import is_unset_contact

        reach = [v for v in (self.email, self.phone) if not is_unset_contact(v)]
        return f"{self.title} ({', '.join([self.name, *reach])})"

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role_id,
            "title": self.title,
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
            "tbd": self.tbd,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Contact:
        return cls(
            role_id=str(data.get("role") or ""),
            title=str(data.get("title") or data.get("role") or ""),
            name=str(data.get("name") or "TBD"),
            email=str(data.get("email") or "TBD"),
            phone=str(data.get("phone") or "TBD"),
        )


@dataclass(frozen=True)
class EscalationPolicy:
    severity: str
    response_time: timedelta
    path: tuple[Contact, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "response_seconds": int(self.response_time.total_seconds()),
            "path": [c.to_json() for c in self.path],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EscalationPolicy:
        return cls(
            severity=str(data.get("severity") or "HIGH"),
            response_time=timedelta(seconds=float(data.get("response_seconds") or DEFAULT_RESPONSE.total_seconds())),
            path=tuple(Contact.from_json(c) for c in data.get("path") or ()),
        )

    def describe(self) -> str:
        chain = " → ".join(c.describe() for c in self.path) or "nobody"
        return f"{self.severity}: respond within {_human(self.response_time)}; {chain}"


def policy_for(
    severity: str,
    rows: Iterable[EscalationRow | Mapping[str, object]],
    roles: Mapping[str, Role | Mapping[str, object]] | None = None,
) -> EscalationPolicy:
    """The policy for `severity` from escalation rows (`{severity, response_time, path}` as in the runbook, or the
    plan's dumped rows) and the runbook's roles (Role models or dicts with title/name/email/phone).

    A severity the table does not list uses the nearest listed severity above it (paging more people rather than
    nobody), else the nearest below."""
    from cutover.runbook.models import parse_duration

    table = {str(_get(r, "severity")).upper(): r for r in rows}
    wanted = severity.upper()
    row = table.get(wanted)
    if row is None:
        rank = severity_rank(wanted)
        above = [s for s in SEVERITIES[rank + 1 :] if s in table]
        below = [s for s in reversed(SEVERITIES[:rank]) if s in table]
        pick = (above or below or [None])[0]
        row = table.get(pick) if pick else None
    if row is None:
        return EscalationPolicy(wanted, DEFAULT_RESPONSE, ())
    response = _get(row, "response_time")
    response_time = response if isinstance(response, timedelta) else parse_duration(str(response))
    role_ids = _get(row, "path")
    listed = role_ids if isinstance(role_ids, list | tuple) else ()
    path = tuple(_contact(str(role_id), roles or {}) for role_id in listed)
    return EscalationPolicy(wanted, response_time, path)


def _get(row: object, key: str) -> object:
    return row.get(key) if isinstance(row, Mapping) else getattr(row, key, None)


def _contact(role_id: str, roles: Mapping[str, Role | Mapping[str, object]]) -> Contact:
    role = roles.get(role_id)
    if role is None:
        return Contact(role_id, role_id.replace("_", " ").title())
    return Contact(
        role_id,
        str(_get(role, "title") or role_id),
        str(_get(role, "name") or "TBD"),
        str(_get(role, "email") or "TBD"),
        str(_get(role, "phone") or "TBD"),
    )


@dataclass(frozen=True)
class EscalationState:
    """Where an alert stands at a moment. `level` indexes `policy.path` (the role currently responsible)."""

    level: int
    acknowledged: bool
    exhausted: bool  # the last role's response time ran out without an acknowledgement
    deadline: datetime | None  # when the current role must have acknowledged (None once acknowledged)
    overdue_by: timedelta  # how long past the last deadline an exhausted alert is (zero otherwise)

    @property
    def state(self) -> str:
        if self.acknowledged:
            return "acknowledged"
        return "overdue" if self.exhausted else "open"


def escalation_state(
    policy: EscalationPolicy, raised_at: datetime, now: datetime, acknowledged_at: datetime | None = None
) -> EscalationState:
    """The escalation level reached at `now` (or when it was acknowledged, if that came first)."""
    steps = max(len(policy.path), 1)
    response = policy.response_time if policy.response_time > timedelta(0) else DEFAULT_RESPONSE
    acked = acknowledged_at is not None and acknowledged_at <= now
    until = acknowledged_at if acked and acknowledged_at is not None else now
    elapsed = max(until - raised_at, timedelta(0))
    reached = int(elapsed / response)  # number of response windows fully elapsed
    level = min(reached, steps - 1)
    exhausted = not acked and reached >= steps
    deadline = None if acked else raised_at + response * (level + 1)
    overdue = (now - (raised_at + response * steps)) if exhausted else timedelta(0)
    return EscalationState(level, acked, exhausted, deadline, overdue)


def due_escalations(
    policy: EscalationPolicy,
    raised_at: datetime,
    now: datetime,
    notified_levels: Iterable[int],
    acknowledged_at: datetime | None = None,
) -> list[int]:
    """Levels that should have been paged by `now` but were not yet (in order). Level 0 is paged when raised."""
    state = escalation_state(policy, raised_at, now, acknowledged_at)
    done = set(notified_levels)
    return [level for level in range(0, state.level + 1) if level not in done]


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
