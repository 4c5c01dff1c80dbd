"""Notifier: routing by severity, outbox format, redaction, and a failing channel never stopping the others."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cutover.notify import (
    AppriseChannel,
    Message,
    Notifier,
    OutboxChannel,
    RecordOnlyChannel,
    channel_from_config,
    read_json_lines,
)
from cutover.notify.channels import BrokenChannel, ChannelError

NOW = datetime(2026, 11, 27, 23, 0, tzinfo=UTC)
TOKEN = "00D5g00000ELAROEA5!AQ4AQFakeTokenValue.abcdefghijklmnop"


class ExplodingChannel:
    """A channel with a bug: raises something that is not a ChannelError."""

    id, type, target, min_severity, delivered_status = "boom", "webhook", "https://hooks", "LOW", "sent"

    def deliver(self, message: Message) -> None:
        raise RuntimeError(f"socket closed while sending {TOKEN}")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_routing_follows_min_severity_and_outbox_has_one_line_per_message(tmp_path: Path) -> None:
    email = OutboxChannel("email", "email", "ops-team@solentra.com", tmp_path / "email.jsonl")
    pager = OutboxChannel("pagerduty", "pagerduty", "on-call", tmp_path / "pager.jsonl", min_severity="HIGH")
    outbox = tmp_path / "run" / "outbox.jsonl"
    notifier = Notifier([email, pager], outbox=outbox, clock=lambda: NOW)

    low = notifier.send(Message("Deployed", "v3.0.0 is live", "LOW", event="deployment_succeeded", run_id="r1"))
    high = notifier.send(Message("SOQL 86%", "over 80%", "HIGH", event="alert", alert_id="al-1", run_id="r1"))

    assert [d.status for d in low.deliveries] == ["sent", "not_routed"]
    assert [d.status for d in high.deliveries] == ["sent", "sent"]
    assert [line["title"] for line in read_json_lines(tmp_path / "email.jsonl")] == ["Deployed", "SOQL 86%"]
    assert [line["title"] for line in read_json_lines(tmp_path / "pager.jsonl")] == ["SOQL 86%"]
    lines = read_json_lines(outbox)
    assert len(lines) == 2
    first = lines[0]
    assert first["at"] == "2026-11-27T23:00:00Z" and first["severity"] == "LOW"
    assert first["event"] == "deployment_succeeded" and first["run_id"] == "r1"
    assert first["deliveries"] == [
        {"channel": "email", "type": "email", "target": "ops-team@solentra.com", "status": "sent"},
        {"channel": "pagerduty", "type": "pagerduty", "target": "on-call", "status": "not_routed"},
    ]
    assert lines[1]["alert_id"] == "al-1"
    # Every line is a self-contained JSON document (one per line).
    assert all(json.loads(raw) for raw in outbox.read_text().splitlines())


def test_a_failing_channel_is_recorded_and_the_others_still_get_the_message(tmp_path: Path) -> None:
    good = OutboxChannel("slack", "slack", "#elaro-production-alerts", tmp_path / "slack.jsonl")
    refused = AppriseChannel("hook", "webhook", "ops webhook", f"json://127.0.0.1:{closed_port()}/alerts")
    recorded = []
    notifier = Notifier([ExplodingChannel(), refused, good], outbox=tmp_path / "outbox.jsonl", recorder=recorded.append)

    report = notifier.send(Message("CPU 97%", "critical", "CRITICAL", event="alert"))

    statuses = {d.channel: d.status for d in report.deliveries}
    assert statuses == {"boom": "failed", "hook": "failed", "slack": "sent"}
    errors = {d.channel: d.error or "" for d in report.failed}
    assert "RuntimeError" in errors["boom"] and TOKEN not in errors["boom"] and "[REDACTED]" in errors["boom"]
    assert "connection" in errors["hook"].lower()
    assert len(read_json_lines(tmp_path / "slack.jsonl")) == 1
    assert recorded == [report]  # the recorder sees failures too (the step turns them into events + evidence)
    line = read_json_lines(tmp_path / "outbox.jsonl")[0]
    assert [d["status"] for d in line["deliveries"]] == ["failed", "failed", "sent"]
    assert "FAILED" in report.summary() and "slack #elaro-production-alerts" in report.summary()


def test_secrets_are_redacted_in_outbox_channel_files_and_summaries(tmp_path: Path) -> None:
    channel = OutboxChannel("email", "email", "ops", tmp_path / "email.jsonl")
    notifier = Notifier([channel], outbox=tmp_path / "outbox.jsonl")
    message = Message(
        "Deploy used Bearer abcdefghijklmnop1234",
        f"sf said: accessToken {TOKEN}",
        "HIGH",
        recipients=(f"SF_ACCESS_TOKEN={TOKEN}",),
        data={"accessToken": TOKEN},
    )
    notifier.send(message)
    for path in (tmp_path / "outbox.jsonl", tmp_path / "email.jsonl"):
        text = path.read_text()
        assert TOKEN not in text and "abcdefghijklmnop1234" not in text
        assert "[REDACTED]" in text
    assert TOKEN not in message.text() and TOKEN not in message.subject + json.dumps(message.to_json())


def test_channels_from_runbook_config(tmp_path: Path) -> None:
    assert isinstance(
        channel_from_config({"id": "email", "type": "email", "target": "ops"}, tmp_path), RecordOnlyChannel
    )
    relative = channel_from_config({"id": "f", "type": "webhook", "target": "t", "url": "file://out/a.jsonl"}, tmp_path)
    assert isinstance(relative, OutboxChannel) and relative.path == tmp_path / "out" / "a.jsonl"
    absolute = channel_from_config(
        {"id": "f", "type": "webhook", "target": "t", "url": f"file://{tmp_path}/b"}, tmp_path
    )
    assert isinstance(absolute, OutboxChannel) and absolute.path == tmp_path / "b"
    env = {"SLACK_TOKENS": "T0000AAAA/B0000BBBB/XXXXXXXXXXXXXXXXXXXXXXXX"}
    slack = channel_from_config(
        {"id": "slack", "type": "slack", "target": "#c", "url": "slack://${SLACK_TOKENS}/#c"}, tmp_path, env
    )
    assert isinstance(slack, AppriseChannel) and slack.url == "slack://T0000AAAA/B0000BBBB/XXXXXXXXXXXXXXXXXXXXXXXX/#c"
    from cutover.redact import redact

    assert "XXXXXXXXXXXXXXXXXXXXXXXX" not in redact("posting with T0000AAAA/B0000BBBB/XXXXXXXXXXXXXXXXXXXXXXXX")
    broken = channel_from_config(
        {"id": "pd", "type": "pagerduty", "target": "p", "url": "pagerduty://${NOPE}"}, tmp_path, {}
    )
    assert isinstance(broken, BrokenChannel)
    with pytest.raises(ChannelError, match="NOPE not set"):
        broken.deliver(Message("t", "b"))


def test_record_only_channels_are_marked_not_sent(tmp_path: Path) -> None:
    notifier = Notifier([RecordOnlyChannel("email", "email", "ops-team@solentra.com")], outbox=tmp_path / "o.jsonl")
    report = notifier.send(Message("Deployed", "v3", "LOW"))
    assert [d.status for d in report.deliveries] == ["not_sent"]
    assert "recorded only (no url): email ops-team@solentra.com" in report.summary()


def test_unknown_severity_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown severity"):
        Message("t", "b", "URGENT")
