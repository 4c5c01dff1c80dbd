"""Alerts kept in the run's audit log: raise, dedupe, escalate with a fake clock, `cutover ack` / `cutover alerts`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cutover.cli import main
from cutover.engine import Engine, StepSpec
from cutover.notify import AlertDesk, Notifier, OutboxChannel, load_alerts, read_json_lines
from cutover.runbook.models import Role

T0 = datetime(2026, 11, 27, 23, 0, tzinfo=UTC)
ROWS = [
    {"severity": "CRITICAL", "response_time": "15m", "path": ["deployment_lead", "cto"]},
    {"severity": "HIGH", "response_time": "1h", "path": ["deployment_lead", "engineering_manager"]},
]
ROLES = {
    "deployment_lead": Role(title="Deployment Lead", name="Dana Lee", email="dana@solentra.com"),
    "cto": Role(title="CTO"),
    "engineering_manager": Role(title="Engineering Manager"),
}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(tmp_path)
    yield eng
    eng.close()


def desk_for(engine: Engine, tmp_path: Path, clock: Clock) -> tuple[AlertDesk, str]:
    run = engine.create_run("prod", [StepSpec(id="monitor.limits", stage="monitor", title="m", action="x")])
    notifier = Notifier(
        [OutboxChannel("pagerduty", "pagerduty", "on-call", tmp_path / "pager.jsonl", min_severity="HIGH")],
        outbox=tmp_path / "outbox.jsonl",
        clock=clock,
    )
    desk = AlertDesk(
        store=engine.store,
        run_id=run.id,
        step_id="monitor.limits",
        notifier=notifier,
        escalation_rows=ROWS,
        roles=ROLES,
        clock=clock,
    )
    return desk, run.id


def test_critical_alert_pages_the_lead_then_escalates_to_the_cto_with_tbd_flagged(
    engine: Engine, tmp_path: Path
) -> None:
    clock = Clock()
    desk, run_id = desk_for(engine, tmp_path, clock)
    raised = desk.raise_alert(key="w/cpu", severity="CRITICAL", title="CPU 97%", body="CPU time at 97%")
    assert raised is not None
    alert, report = raised
    assert alert.id.startswith("al-") and [d.status for d in report.deliveries] == ["sent"]
    first = read_json_lines(tmp_path / "pager.jsonl")[0]
    assert first["severity"] == "CRITICAL" and first["alert_id"] == alert.id
    assert first["recipients"][0] == "Paging: Deployment Lead (Dana Lee, dana@solentra.com)"
    assert "Acknowledge by 2026-11-27T23:15:00Z" in first["recipients"][1]
    assert first["recipients"][2] == "Not acknowledged by then: escalates to CTO (contact TBD)"

    clock.now = T0 + timedelta(minutes=14)
    assert desk.escalate_due() == []
    clock.now = T0 + timedelta(minutes=15, seconds=1)
    escalated = desk.escalate_due()
    assert len(escalated) == 1
    second = read_json_lines(tmp_path / "pager.jsonl")[1]
    assert second["title"].startswith("ESCALATED (2/2): CPU 97%")
    assert second["recipients"][0].startswith("Escalated to: CTO (contact TBD)")
    assert "TBD" in second["recipients"][0] and "page them by hand" in second["recipients"][0]
    clock.now = T0 + timedelta(hours=2)
    assert desk.escalate_due() == []  # the path is exhausted: nobody further to page
    [stored] = load_alerts(engine.store, run_id)
    assert stored.notified_levels == (0, 1) and stored.state(clock.now).state == "overdue"
    kinds = [e.type for e in engine.store.events(run_id) if e.type.startswith("alert.")]
    assert kinds == ["alert.raised", "alert.notified", "alert.notified"]


def test_same_breach_is_one_alert_but_a_worse_one_is_new(engine: Engine, tmp_path: Path) -> None:
    desk, run_id = desk_for(engine, tmp_path, Clock())
    assert desk.raise_alert(key="w/soql", severity="HIGH", title="SOQL 81%", body="b") is not None
    assert desk.raise_alert(key="w/soql", severity="HIGH", title="SOQL 84%", body="b") is None
    assert desk.raise_alert(key="w/soql", severity="CRITICAL", title="SOQL 96%", body="b") is not None
    assert desk.raise_alert(key="w/soql", severity="HIGH", title="SOQL 85%", body="b") is None
    assert [a.severity for a in load_alerts(engine.store, run_id)] == ["HIGH", "CRITICAL"]


def test_ack_command_stops_escalation_and_alerts_lists_state(engine: Engine, tmp_path: Path, capsys) -> None:
    clock = Clock()
    clock.now = datetime.now(UTC)  # the commands use the real clock
    desk, run_id = desk_for(engine, tmp_path, clock)
    raised = desk.raise_alert(key="w/dml", severity="HIGH", title="DML 88%", body="b")
    assert raised is not None
    alert_id = raised[0].id

    assert main(["-C", str(tmp_path), "alerts", run_id, "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["alerts"]
    assert row["id"] == alert_id and row["state"] == "open" and row["responsible"]["title"] == "Deployment Lead"
    assert [p["title"] for p in row["path"]] == ["Deployment Lead", "Engineering Manager"]

    assert main(["-C", str(tmp_path), "ack", alert_id[:6], "--by", "Dana Lee", "--note", "looking"]) == 0
    assert "acknowledged by Dana Lee" in capsys.readouterr().out
    clock.now = clock.now + timedelta(hours=3)
    assert desk.escalate_due() == []  # acknowledged from "another process": the desk re-reads the events
    assert main(["-C", str(tmp_path), "alerts"]) == 0
    assert "acknowledged by Dana Lee" in capsys.readouterr().out
    assert main(["-C", str(tmp_path), "ack", alert_id, "--by", "Someone Else"]) == 2
    assert "already acknowledged by Dana Lee" in capsys.readouterr().err
    assert main(["-C", str(tmp_path), "ack", "al-nope", "--by", "X"]) == 2


def test_alerts_in_the_audit_chain_still_verify(engine: Engine, tmp_path: Path) -> None:
    desk, run_id = desk_for(engine, tmp_path, Clock())
    desk.raise_alert(key="k", severity="HIGH", title="t", body="b")
    assert engine.verify(run_id).ok


def test_alerts_escalate_pages_what_is_due_after_the_monitor_stopped(tmp_path: Path, capsys) -> None:
    (tmp_path / "cutover.yaml").write_text(
        "target:\n  alias: prod\nalerts:\n  channels:\n"
        "    - {id: pd, type: pagerduty, target: on-call, url: 'file://pager.jsonl', min_severity: HIGH}\n"
    )
    engine = Engine(tmp_path)
    try:
        clock = Clock()
        clock.now = datetime.now(UTC) - timedelta(minutes=20)  # raised 20 min ago by a monitor that has ended
        desk, _ = desk_for(engine, tmp_path, clock)
        raised = desk.raise_alert(key="w/cpu", severity="CRITICAL", title="CPU 97%", body="b")
        assert raised is not None
    finally:
        engine.close()
    assert main(["-C", str(tmp_path), "alerts", "--escalate", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert f"paged for {raised[0].id}" in captured.err
    [row] = json.loads(captured.out)["alerts"]
    assert row["paged_levels"] == [0, 1] and row["responsible"]["title"] == "CTO"
    assert read_json_lines(tmp_path / "pager.jsonl")[-1]["title"].startswith("ESCALATED (2/2)")
    assert len(read_json_lines(tmp_path / "pager.jsonl")) == 2  # the first page (by the monitor), the escalation
    assert main(["-C", str(tmp_path), "alerts", "--escalate"]) == 0  # nothing more is due: no further page
    assert len(read_json_lines(tmp_path / "pager.jsonl")) == 2
