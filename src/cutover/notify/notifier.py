"""`Notifier`: send one message to the channels routed for its severity, and record every attempt.

Routing: a channel receives a message when the message's severity is at least the channel's `min_severity`
(the seed routes everything to email and Slack, and only HIGH and CRITICAL to PagerDuty). Every send appends one
JSON line to the outbox (the run's `.cutover/runs/<run>/outbox.jsonl`, or `.cutover/outbox.jsonl` outside a run)
with the message and each channel's result: `sent`, `failed` (with the reason), `not_sent` (no url in the runbook)
or `not_routed` (below the channel's minimum severity). A failing channel never raises: the failure is in the
outbox line, in the `recorder` callback (a step turns it into an audit event + evidence) and in the report.
Everything written is redacted.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cutover.notify.channels import Channel, ChannelError, append_json_line
from cutover.notify.escalation import at_least, severity_rank
from cutover.redact import redact, redact_obj

if TYPE_CHECKING:
    from cutover.engine import StepContext
    from cutover.runbook.models import Runbook


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    severity: str = "LOW"
    event: str = "notice"
    run_id: str | None = None
    step_id: str | None = None
    alert_id: str | None = None
    #: Who must act, in words (the escalation contact, TBD flagged); printed in the message.
    recipients: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: "msg-" + secrets.token_hex(4))
    #: The run's audit head when it was sent ({seq, hash}): every notification anchors the trail off the machine.
    audit_head: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        severity_rank(self.severity)  # refuse unknown severities early

    @property
    def subject(self) -> str:
        return redact(f"[{self.severity}] {self.title}")

    def text(self) -> str:
        lines = [self.body.rstrip()]
        if self.recipients:
            lines += ["", *self.recipients]
        tail = [f"run {self.run_id}" if self.run_id else "", f"step {self.step_id}" if self.step_id else ""]
        if self.alert_id:
            tail.append(f"alert {self.alert_id}")
        tail_text = ", ".join(t for t in tail if t)
        if tail_text:
            lines += ["", f"cutover: {tail_text}"]
        if self.audit_head:
            lines.append(f"audit head: event #{self.audit_head.get('seq')} sha256 {self.audit_head.get('hash')}")
        return redact("\n".join(lines))

    def to_json(self) -> dict[str, Any]:
        return redact_obj(
            {
                "message_id": self.id,
                "event": self.event,
                "severity": self.severity,
                "title": self.title,
                "body": self.body,
                "run_id": self.run_id,
                "step_id": self.step_id,
                "alert_id": self.alert_id,
                "recipients": list(self.recipients),
                "data": dict(self.data),
                "audit_head": dict(self.audit_head) if self.audit_head else None,
            }
        )


@dataclass(frozen=True)
class Delivery:
    channel: str
    type: str
    target: str
    status: str  # sent | failed | not_sent | not_routed
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"channel": self.channel, "type": self.type, "target": self.target, "status": self.status}
        if self.error:
            out["error"] = self.error
        return out

    def describe(self) -> str:
        what = f"{self.type} {self.target}"
        if self.status == "failed":
            return f"{what}: FAILED ({self.error})"
        if self.status == "not_sent":
            return f"{what}: not sent (no url in the runbook; kept in the outbox)"
        if self.status == "not_routed":
            return f"{what}: not routed (below its minimum severity)"
        return f"{what}: sent"


@dataclass(frozen=True)
class SendReport:
    message: Message
    at: str
    deliveries: tuple[Delivery, ...]
    outbox: str | None = None  # where the outbox line went

    @property
    def sent(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.status == "sent"]

    @property
    def failed(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.status == "failed"]

    @property
    def unsent(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.status == "not_sent"]

    def summary(self) -> str:
        parts = []
        if self.sent:
            parts.append("sent to " + ", ".join(f"{d.type} {d.target}" for d in self.sent))
        if self.unsent:
            parts.append("recorded only (no url): " + ", ".join(f"{d.type} {d.target}" for d in self.unsent))
        if self.failed:
            parts.append("FAILED: " + "; ".join(f"{d.type} {d.target} ({d.error})" for d in self.failed))
        if not parts:
            parts.append("no channel is routed for " + self.message.severity)
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return redact_obj(
            {
                "at": self.at,
                **self.message.to_json(),
                "deliveries": [d.to_json() for d in self.deliveries],
            }
        )


#: Called with every SendReport (a step records it as evidence and an audit event).
Recorder = Callable[[SendReport], None]


class Notifier:
    def __init__(
        self,
        channels: Sequence[Channel],
        *,
        outbox: Path | None = None,
        recorder: Recorder | None = None,
        clock: Callable[[], datetime] | None = None,
        cutover_dir: Path | None = None,
    ) -> None:
        self.channels = list(channels)
        self.outbox = outbox
        self.recorder = recorder
        self.clock = clock or (lambda: datetime.now(UTC))
        self.cutover_dir = cutover_dir  # where the runs' HEAD anchors are: each message carries its run's head

    def with_head(self, message: Message) -> Message:
        """The message with its run's current audit head (the HEAD anchor), unless it has one or there is none."""
        if message.audit_head is not None or not message.run_id or self.cutover_dir is None:
            return message
        from cutover.engine.integrity import read_anchor

        head, _problem = read_anchor(Path(self.cutover_dir) / "runs" / message.run_id)
        if head is None:
            return message
        return replace(message, audit_head={"run_id": message.run_id, "seq": head[0], "hash": head[1]})

    def routed(self, severity: str) -> list[Channel]:
        return [c for c in self.channels if at_least(severity, c.min_severity or "LOW")]

    def send(self, message: Message, *, only: Iterable[str] | None = None) -> SendReport:
        """Deliver to every routed channel (or only the channel ids in `only`); never raises for a channel."""
        wanted = set(only) if only is not None else None
        message = self.with_head(message)
        deliveries: list[Delivery] = []
        for channel in self.channels:
            if wanted is not None and channel.id not in wanted:
                continue
            if not at_least(message.severity, channel.min_severity or "LOW"):
                deliveries.append(Delivery(channel.id, channel.type, channel.target, "not_routed"))
                continue
            try:
                channel.deliver(message)
            except ChannelError as exc:
                deliveries.append(Delivery(channel.id, channel.type, channel.target, "failed", redact(str(exc))))
            except Exception as exc:  # a bug in a channel must not take the run down either
                error = redact(f"{type(exc).__name__}: {exc}")[:300]
                deliveries.append(Delivery(channel.id, channel.type, channel.target, "failed", error))
            else:
                deliveries.append(Delivery(channel.id, channel.type, channel.target, channel.delivered_status))
        report = SendReport(message, iso(self.clock()), tuple(deliveries), str(self.outbox) if self.outbox else None)
        if self.outbox is not None:
            try:
                append_json_line(self.outbox, report.to_json())
            except OSError as exc:
                report = SendReport(
                    message,
                    report.at,
                    (*deliveries, Delivery("outbox", "file", str(self.outbox), "failed", redact(str(exc)))),
                    None,
                )
        if self.recorder is not None:
            self.recorder(report)
        return report


def run_outbox(cutover_dir: Path, run_id: str | None) -> Path:
    """The outbox of a run (`.cutover/runs/<run>/outbox.jsonl`), or the project's when there is no run."""
    if run_id:
        return Path(cutover_dir) / "runs" / run_id / "outbox.jsonl"
    return Path(cutover_dir) / "outbox.jsonl"


def step_recorder(ctx: StepContext) -> Recorder:
    """A Recorder that makes each send evidence of the step (`notification-<event>.json`) plus an audit event
    (`notify.sent`, or `notify.failed` when a channel failed)."""

    def record(report: SendReport) -> None:
        evidence = ctx.record_evidence(f"notification-{report.message.event}.json", report.to_json())
        kind = "notify.failed" if report.failed else "notify.sent"
        ctx.event(
            kind,
            message_id=report.message.id,
            notify_event=report.message.event,
            severity=report.message.severity,
            alert_id=report.message.alert_id,
            title=report.message.title,
            deliveries=[d.to_json() for d in report.deliveries],
            evidence=evidence.relpath,
            audit_head=report.message.audit_head,  # the head this notification published
        )

    return record


def notifier_for(
    runbook: Runbook,
    project_dir: Path,
    *,
    run_id: str | None = None,
    recorder: Recorder | None = None,
    clock: Callable[[], datetime] | None = None,
    channels: Sequence[Channel] | None = None,
) -> Notifier:
    """The runbook's channels, writing the outbox of `run_id` under `<project>/.cutover/`."""
    from cutover.notify.channels import channels_from_runbook

    chosen = list(channels) if channels is not None else channels_from_runbook(runbook, project_dir)
    outbox = run_outbox(Path(project_dir) / ".cutover", run_id)
    return Notifier(chosen, outbox=outbox, recorder=recorder, clock=clock, cutover_dir=Path(project_dir) / ".cutover")
