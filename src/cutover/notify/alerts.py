"""Alerts with an owner: raised, paged along the Escalation Path, acknowledged with `cutover ack`.

The audit log is the alert store: `alert.raised`, `alert.notified` (one per escalation level paged) and
`alert.acknowledged` events of the run. So alerts survive a crash, resume sees what was already paged, `cutover ack`
in another terminal is seen by the running monitor (it re-reads the events), and every page and acknowledgement is
in the tamper-evident trail the release record is rendered from.

`AlertDesk` is the live side (raise, escalate what is due, acknowledge); `load_alerts` the read side. Timing rules
are in `cutover.notify.escalation` (pure).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cutover.notify.escalation import (
    EscalationPolicy,
    EscalationState,
    due_escalations,
    escalation_state,
    policy_for,
)
from cutover.notify.notifier import Message, Notifier, SendReport, iso, parse_iso
from cutover.redact import redact_obj

if TYPE_CHECKING:
    from cutover.engine.store import Store
    from cutover.runbook.models import EscalationRow, Role

RAISED, NOTIFIED, ACKNOWLEDGED = "alert.raised", "alert.notified", "alert.acknowledged"


@dataclass(frozen=True)
class Alert:
    id: str
    run_id: str
    step_id: str | None
    key: str  # what the alert is about (dedup): e.g. "window-1/limit:soql"
    severity: str
    title: str
    body: str
    raised_at: datetime
    policy: EscalationPolicy
    notified_levels: tuple[int, ...] = ()
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def state(self, now: datetime) -> EscalationState:
        return escalation_state(self.policy, self.raised_at, now, self.acknowledged_at)

    def to_json(self, now: datetime) -> dict[str, Any]:
        state = self.state(now)
        current = self.policy.path[state.level] if self.policy.path else None
        return redact_obj(
            {
                "id": self.id,
                "run_id": self.run_id,
                "step_id": self.step_id,
                "key": self.key,
                "severity": self.severity,
                "title": self.title,
                "state": state.state,
                "raised_at": iso(self.raised_at),
                "response_seconds": int(self.policy.response_time.total_seconds()),
                "deadline": iso(state.deadline) if state.deadline else None,
                "level": state.level,
                "responsible": current.to_json() if current else None,
                "path": [c.to_json() for c in self.policy.path],
                "paged_levels": list(self.notified_levels),
                "acknowledged_by": self.acknowledged_by,
                "acknowledged_at": iso(self.acknowledged_at) if self.acknowledged_at else None,
                "data": dict(self.data),
            }
        )


def load_alerts(store: Store, run_id: str) -> list[Alert]:
    """Every alert of a run, rebuilt from its events, in the order raised."""
    alerts: dict[str, Alert] = {}
    for event in store.events(run_id):
        payload = event.payload
        alert_id = payload.get("alert_id") if isinstance(payload, Mapping) else None
        if not alert_id:
            continue
        if event.type == RAISED:
            alerts[alert_id] = Alert(
                id=alert_id,
                run_id=run_id,
                step_id=event.step_id,
                key=str(payload.get("key") or alert_id),
                severity=str(payload.get("severity") or "HIGH"),
                title=str(payload.get("title") or ""),
                body=str(payload.get("body") or ""),
                raised_at=parse_iso(payload.get("raised_at")) or parse_iso(event.at) or datetime.now(UTC),
                policy=EscalationPolicy.from_json(payload.get("policy") or {}),
                data=dict(payload.get("data") or {}),
            )
        elif alert_id in alerts and event.type == NOTIFIED:
            alert = alerts[alert_id]
            level = int(payload.get("level") or 0)
            if level not in alert.notified_levels:
                alerts[alert_id] = replace(alert, notified_levels=(*alert.notified_levels, level))
        elif alert_id in alerts and event.type == ACKNOWLEDGED and alerts[alert_id].acknowledged_at is None:
            alerts[alert_id] = replace(
                alerts[alert_id],
                acknowledged_by=str(payload.get("by") or ""),
                acknowledged_at=parse_iso(payload.get("at")) or parse_iso(event.at),
            )
    return list(alerts.values())


def find_alert(store: Store, alert_id: str) -> Alert:
    """The alert `alert_id` (or a unique prefix of it) in any run of the project."""
    from cutover.errors import UsageError

    matches = []
    for run in store.list_runs():
        matches += [a for a in load_alerts(store, run.id) if a.id == alert_id or a.id.startswith(alert_id)]
    exact = [a for a in matches if a.id == alert_id]
    if exact:
        return exact[0]
    if len(matches) != 1:
        what = "no alert" if not matches else f"{len(matches)} alerts"
        raise UsageError(f"{what} matching {alert_id!r}", hint="list alerts with: cutover alerts")
    return matches[0]


def acknowledge(store: Store, alert: Alert, *, by: str, note: str | None = None, now: datetime | None = None) -> Alert:
    from cutover.errors import UsageError

    if not by.strip():
        raise UsageError("--by must name the person acknowledging the alert")
    if alert.acknowledged_at is not None:
        raise UsageError(
            f"alert {alert.id} was already acknowledged by {alert.acknowledged_by} at {iso(alert.acknowledged_at)}"
        )
    moment = now or datetime.now(UTC)
    state = alert.state(moment)
    with store.transaction() as tx:
        tx.append_event(
            alert.run_id,
            ACKNOWLEDGED,
            alert.step_id,
            {
                "alert_id": alert.id,
                "by": by.strip(),
                "at": iso(moment),
                "note": note,
                "level": state.level,
                "late": state.level > 0 or state.exhausted,  # the first responder's time had run out
            },
        )
    return replace(alert, acknowledged_by=by.strip(), acknowledged_at=moment)


def _new_alert_id(existing: Iterable[str]) -> str:
    taken = set(existing)
    while True:
        candidate = "al-" + secrets.token_hex(3)
        if candidate not in taken:
            return candidate


class AlertDesk:
    """Raises and escalates the alerts of one step of a run. `append_event(type, step_id, payload)` writes to the
    run's audit log (a StepContext's `event`, or a plain store transaction for commands)."""

    def __init__(
        self,
        *,
        store: Store,
        run_id: str,
        step_id: str | None,
        notifier: Notifier,
        escalation_rows: Iterable[EscalationRow | Mapping[str, object]],
        roles: Mapping[str, Role | Mapping[str, object]] | None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.step_id = step_id
        self.notifier = notifier
        self.rows = list(escalation_rows)
        self.roles = roles or {}
        self.clock = clock or (lambda: datetime.now(UTC))

    def _append(self, type_: str, payload: dict[str, Any]) -> None:
        with self.store.transaction() as tx:
            tx.append_event(self.run_id, type_, self.step_id, payload)

    def alerts(self) -> list[Alert]:
        return load_alerts(self.store, self.run_id)

    def policy(self, severity: str) -> EscalationPolicy:
        return policy_for(severity, self.rows, self.roles)

    def raise_alert(
        self, *, key: str, severity: str, title: str, body: str, data: Mapping[str, Any] | None = None
    ) -> tuple[Alert, SendReport] | None:
        """Raise and page the first role, unless an alert with this key and at least this severity is already
        raised in the run (a breach that persists for 24 h is one alert, not 96). Returns None when deduplicated."""
        from cutover.notify.escalation import severity_rank

        existing = [a for a in self.alerts() if a.key == key]
        if any(severity_rank(a.severity) >= severity_rank(severity) for a in existing):
            return None
        now = self.clock()
        policy = self.policy(severity)
        alert = Alert(
            id=_new_alert_id(a.id for a in self.alerts()),
            run_id=self.run_id,
            step_id=self.step_id,
            key=key,
            severity=severity,
            title=title,
            body=body,
            raised_at=now,
            policy=policy,
            data=dict(data or {}),
        )
        self._append(
            RAISED,
            {
                "alert_id": alert.id,
                "key": key,
                "severity": severity,
                "title": title,
                "body": body,
                "raised_at": iso(now),
                "policy": policy.to_json(),
                "data": dict(data or {}),
            },
        )
        report = self._page(alert, 0)
        return replace(alert, notified_levels=(0,)), report

    def escalate_due(self) -> list[tuple[Alert, SendReport]]:
        """Page every level that is due by now for unacknowledged alerts of this run (acks from other processes
        are seen: the events are re-read)."""
        now = self.clock()
        sent = []
        for alert in self.alerts():
            if alert.acknowledged_at is not None:
                continue
            for level in due_escalations(alert.policy, alert.raised_at, now, alert.notified_levels):
                sent.append((alert, self._page(alert, level)))
        return sent

    def _page(self, alert: Alert, level: int) -> SendReport:
        policy = alert.policy
        now = self.clock()
        contact = policy.path[level] if level < len(policy.path) else None
        deadline = alert.raised_at + policy.response_time * (level + 1)
        recipients = []
        if contact is not None:
            who = contact.describe()
            flag = "  ⚠ no contact in the runbook (TBD): page them by hand" if contact.tbd else ""
            recipients.append(f"{'Escalated to' if level else 'Paging'}: {who}{flag}")
        nxt = policy.path[level + 1] if level + 1 < len(policy.path) else None
        recipients.append(
            f"Acknowledge by {iso(deadline)} ({policy.severity}: respond within "
            f"{_minutes(policy.response_time)}): cutover ack {alert.id} --by NAME"
        )
        if nxt is not None:
            recipients.append(f"Not acknowledged by then: escalates to {nxt.describe()}")
        else:
            recipients.append("Last on the escalation path for this severity")
        title = alert.title if level == 0 else f"ESCALATED ({level + 1}/{len(policy.path)}): {alert.title}"
        message = Message(
            title=title,
            body=alert.body,
            severity=alert.severity,
            event="alert" if level == 0 else "alert_escalated",
            run_id=self.run_id,
            step_id=self.step_id,
            alert_id=alert.id,
            recipients=tuple(recipients),
            data={
                "level": level,
                "contact": contact.to_json() if contact else None,
                "deadline": iso(deadline),
                "path": [c.to_json() for c in policy.path],
            },
        )
        report = self.notifier.send(message)
        self._append(
            NOTIFIED,
            {
                "alert_id": alert.id,
                "level": level,
                "at": iso(now),
                "contact": contact.to_json() if contact else None,
                "contact_tbd": bool(contact and contact.tbd),
                "deadline": iso(deadline),
                "deliveries": [d.to_json() for d in report.deliveries],
                "audit_head": report.message.audit_head,  # the head this page published
            },
        )
        return report


def _minutes(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0 and seconds >= 3600:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0 and seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"
