"""The `notify` action: the runbook's announcements, sent through the alert channels (`cutover.notify`).

Plan steps that use it (their `params.event` says which message):

- `verify.announce` (`deployment_succeeded`, LOW): seed "Deployment announcement sent to stakeholders";
- `monitor.alert-routing` (`monitoring_started`, LOW): announces the monitoring window and records the routing
  table (which channel gets which severity) and the Escalation Path with each role's contact, TBD flagged —
  the proof that alert routing is set up before the 24 hours start;
- `rollback.notify` (`rollback`, CRITICAL): seed "Notify all stakeholders of rollback". A CRITICAL message is an
  *alert*: it pages the first role of the CRITICAL escalation row and escalates until someone runs `cutover ack`.

Announcements go to the channels routed for their severity (PagerDuty only takes HIGH and above, so a LOW
announcement never pages on-call). Every send is evidence (`notification-<event>.json`), an audit event and a line
in the run's outbox; a channel that fails is reported in the step's detail and never fails the run (the message
is still in the outbox). The step fails only when nothing could be recorded at all.

The pre-deployment "Deployment notification sent to all stakeholders" sign-off is given by
`cutover announce --by WHO` (`cutover.commands.alerts`), which sends `deployment_scheduled` and signs
`signoff.stakeholder-notification` with the outbox line as evidence, so the preflight gate finds it like any sign-off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cutover.engine import StepContext, StepOutcome
from cutover.notify.escalation import SEVERITIES, at_least, policy_for
from cutover.notify.notifier import Message, SendReport, iso
from cutover.steps._params import params_of
from cutover.steps.registry import StepServices, register_action

if TYPE_CHECKING:
    from cutover.runbook.models import Runbook
    from cutover.runbook.plan import PlanStep

ANNOUNCEMENT_EVENTS = ("deployment_scheduled", "deployment_succeeded", "monitoring_started", "rollback")


def routing_table(runbook: Runbook) -> dict[str, Any]:
    """Per severity: the channels that receive it and the escalation policy with contacts (TBD flagged). A JSON
    document (evidence `alert-routing.json`)."""
    channels = list(getattr(runbook.alerts, "channels", None) or ())
    rows = [r.model_dump() for r in runbook.alerts.escalation]
    table = []
    for severity in reversed(SEVERITIES):
        policy = policy_for(severity, rows, runbook.roles)
        table.append(
            {
                "severity": severity,
                "channels": [
                    {"id": c.id, "type": c.type, "target": c.target, "has_url": bool(c.url)}
                    for c in channels
                    if at_least(severity, c.min_severity)
                ],
                "escalation": policy.to_json(),
                "describe": policy.describe(),
            }
        )
    tbd = sorted({p["title"] for row in table for p in row["escalation"]["path"] if p["tbd"]})
    return {"severities": table, "contacts_tbd": tbd}


def compose(event: str, runbook: Runbook, *, alias: str, run_id: str | None, context: Mapping[str, object]) -> Message:
    """The message for an announcement event (plain text, for people)."""
    version = runbook.release.version
    name = runbook.name
    channels = ", ".join(f"{c.type} {c.target}" for c in runbook.alerts.channels) or "no channels"
    severity = str(context.get("severity") or ("CRITICAL" if event == "rollback" else "LOW"))
    if event == "deployment_scheduled":
        title = f"{name}: release v{version} to {alias} scheduled"
        body = (
            f"Release v{version} will be deployed to {alias} in the window {runbook.window.describe()} "
            f"(estimated {runbook.window.duration_hours:g} h including validation and smoke tests).\n"
            f"During and after the deployment, alerts go to: {channels}."
        )
        if context.get("message"):
            body += f"\n\n{context['message']}"
    elif event == "deployment_succeeded":
        title = f"{name}: release v{version} deployed to {alias}"
        issues = "\n".join(f"- {i.title}: {i.symptom}. Workaround: {i.workaround}" for i in runbook.known_issues)
        body = (
            f"Release v{version} was deployed to {alias} and passed post-deployment verification "
            f"({iso(datetime.now(UTC))}).\n"
            f"Monitoring for the next {runbook.monitoring.duration} (every {runbook.monitoring.interval}); "
            f"alerts go to: {channels}."
        )
        if issues:
            body += f"\n\nKnown issues:\n{issues}"
    elif event == "monitoring_started":
        limits = runbook.thresholds.limits
        title = f"{name}: monitoring of release v{version} on {alias} started"
        routing = routing_table(runbook)
        lines = [f"- {row['describe']}" for row in routing["severities"]]
        body = (
            f"Monitoring {alias} every {runbook.monitoring.interval} for {runbook.monitoring.duration}: "
            f"SOQL < {limits.soql:g}%, DML < {limits.dml:g}%, CPU < {limits.cpu:g}%, heap < {limits.heap:g}% of "
            f"limit.\nEscalation Path:\n" + "\n".join(lines)
        )
        if routing["contacts_tbd"]:
            body += "\nNo contact in the runbook (TBD) for: " + ", ".join(routing["contacts_tbd"])
    elif event == "rollback":
        title = f"{name}: ROLLBACK of release v{version} on {alias}"
        reason = context.get("reason") or "see the run's audit log"
        body = (
            f"Release v{version} is being rolled back on {alias}: {reason}.\n"
            "Quick rollback (Option 1): the backup is redeployed, the components the release added are removed and "
            "the scheduled jobs re-created."
        )
    else:
        title = str(context.get("title") or f"{name}: {event.replace('_', ' ')} on {alias}")
        body = str(context.get("body") or title)
    return Message(title=title, body=body, severity=severity, event=event, run_id=run_id, data={"org": alias})


def rollback_reason(ctx: StepContext) -> str | None:
    for event in reversed(ctx.store.events(ctx.run_id)):
        if event.type in ("rollback.started", "rollback.resumed"):
            reason = event.payload.get("reason")
            return f"{reason} (trigger: {event.step_id})" if event.step_id else str(reason)
    return None


@dataclass
class NotifyStep:
    runbook: Runbook
    alias: str
    event: str
    severity: str = "LOW"
    idempotent: bool = True  # a repeated announcement is harmless; a missing one is not

    def run(self, ctx: StepContext) -> StepOutcome:
        from cutover.notify import AlertDesk, notifier_for, step_recorder

        notifier = notifier_for(self.runbook, ctx.project_dir, run_id=ctx.run_id, recorder=step_recorder(ctx))
        context: dict[str, object] = {"severity": self.severity}
        if self.event == "rollback":
            context["reason"] = rollback_reason(ctx)
        if self.event == "monitoring_started":
            ctx.record_evidence("alert-routing.json", routing_table(self.runbook))
        message = compose(self.event, self.runbook, alias=self.alias, run_id=ctx.run_id, context=context)
        message = replace(message, step_id=ctx.step.id)
        alert_id = None
        if at_least(self.severity, "CRITICAL"):
            # A CRITICAL announcement needs an owner: it is an alert paged along the Escalation Path.
            desk = AlertDesk(
                store=ctx.store,
                run_id=ctx.run_id,
                step_id=ctx.step.id,
                notifier=notifier,
                escalation_rows=[r.model_dump() for r in self.runbook.alerts.escalation],
                roles=self.runbook.roles,
            )
            raised = desk.raise_alert(
                key=f"{ctx.step.id}/{self.event}",
                severity=self.severity,
                title=message.title,
                body=message.body,
                data={"event": self.event},
            )
            if raised is None:
                return StepOutcome.passed(f"{self.event} alert already raised in this run")
            alert, report = raised
            alert_id = alert.id
        else:
            report = notifier.send(message)
        return self._outcome(report, alert_id)

    def _outcome(self, report: SendReport, alert_id: str | None) -> StepOutcome:
        data = {
            "event": self.event,
            "message_id": report.message.id,
            "alert_id": alert_id,
            "sent": [d.channel for d in report.sent],
            "failed": [d.channel for d in report.failed],
            "not_sent": [d.channel for d in report.unsent],
            "outbox": report.outbox,
        }
        detail = report.summary() + (f"; alert {alert_id}: cutover ack {alert_id} --by NAME" if alert_id else "")
        if report.outbox is None and not report.sent:
            return StepOutcome.failed(f"{self.event}: nothing was sent or recorded: {detail}", **data)
        return StepOutcome.passed(detail, **data)


@register_action("notify")
def _notify(plan_step: PlanStep, runbook: Runbook, services: StepServices) -> NotifyStep:
    params = params_of(plan_step)
    event = str(params.get("event") or "notice")
    severity = str(params.get("severity") or ("CRITICAL" if event == "rollback" else "LOW")).upper()
    return NotifyStep(runbook=runbook, alias=services.target_org, event=event, severity=severity)
