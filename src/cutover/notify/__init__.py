"""Notifications and alerts: channels from the runbook (apprise URLs, a local JSON-lines outbox), routing by
severity, and the runbook's Escalation Path (deadlines, escalation, acknowledgement with `cutover ack`).

- `channels`: `channels_from_runbook(runbook, project_dir)`; `file://PATH` outboxes; apprise for everything else.
- `notifier`: `Notifier.send(Message)` → `SendReport` (never raises for a channel); `notifier_for(...)`.
- `escalation`: the pure policy (`policy_for`, `escalation_state`, `due_escalations`), unit-tested with a fake clock.
- `alerts`: alerts kept in the run's audit log (`AlertDesk`, `load_alerts`, `acknowledge`).
"""

from cutover.notify.alerts import Alert, AlertDesk, acknowledge, find_alert, load_alerts
from cutover.notify.channels import (
    AppriseChannel,
    ChannelError,
    OutboxChannel,
    RecordOnlyChannel,
    channel_from_config,
    channels_from_runbook,
    read_json_lines,
)
from cutover.notify.escalation import (
    SEVERITIES,
    Contact,
    EscalationPolicy,
    EscalationState,
    due_escalations,
    escalation_state,
    policy_for,
    severity_rank,
)
from cutover.notify.notifier import Delivery, Message, Notifier, SendReport, notifier_for, run_outbox, step_recorder

__all__ = [
    "SEVERITIES",
    "Alert",
    "AlertDesk",
    "AppriseChannel",
    "ChannelError",
    "Contact",
    "Delivery",
    "EscalationPolicy",
    "EscalationState",
    "Message",
    "Notifier",
    "OutboxChannel",
    "RecordOnlyChannel",
    "SendReport",
    "acknowledge",
    "channel_from_config",
    "channels_from_runbook",
    "due_escalations",
    "escalation_state",
    "find_alert",
    "load_alerts",
    "notifier_for",
    "policy_for",
    "read_json_lines",
    "run_outbox",
    "severity_rank",
    "step_recorder",
]
