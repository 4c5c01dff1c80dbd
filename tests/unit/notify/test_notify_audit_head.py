"""Every notification carries the run's audit head (issue 9.4): in its text, its JSON (outboxes, webhooks), and the
audit event that records the send."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cutover.engine import Engine, StepContext, StepSpec
from cutover.notify import AlertDesk, Message, Notifier, OutboxChannel, read_json_lines, step_recorder
from cutover.notify.notifier import notifier_for
from cutover.runbook.models import Role


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(tmp_path)
    yield eng
    eng.close()


def _run(engine: Engine) -> str:
    run = engine.create_run("prod", [StepSpec(id="notify.start", stage="notify", title="n", action="x")])
    with engine.store.transaction() as tx:  # a few events, so the head is not the first one
        tx.append_event(run.id, "note", None, {"n": 1})
        tx.append_event(run.id, "note", None, {"n": 2})
    return run.id


def test_a_sent_message_carries_the_head_in_its_text_json_and_outbox(engine: Engine, tmp_path: Path) -> None:
    run_id = _run(engine)
    seq, digest = engine.store.read_head(run_id) or (0, "")
    assert seq == 3
    channel = OutboxChannel("slack", "slack", "#release", tmp_path / "slack.jsonl")
    notifier = Notifier([channel], outbox=tmp_path / "outbox.jsonl", cutover_dir=engine.cutover_dir)
    report = notifier.send(Message(title="Deploy started", body="starting", run_id=run_id))
    assert report.message.audit_head == {"run_id": run_id, "seq": 3, "hash": digest}
    assert f"audit head: event #3 sha256 {digest}" in report.message.text()
    delivered = read_json_lines(tmp_path / "slack.jsonl")
    assert delivered[-1]["audit_head"]["hash"] == digest and delivered[-1]["audit_head"]["seq"] == 3
    assert read_json_lines(tmp_path / "outbox.jsonl")[-1]["audit_head"]["hash"] == digest


def test_the_head_moves_with_the_log_and_the_recording_event_names_it(engine: Engine, tmp_path: Path) -> None:
    run_id = _run(engine)
    record = engine.steps(run_id)[0]
    ctx = StepContext(store=engine.store, record=record, project_dir=tmp_path)
    channel = OutboxChannel("email", "email", "team", tmp_path / "mail.jsonl")
    notifier = notifier_for(object(), tmp_path, run_id=run_id, recorder=step_recorder(ctx), channels=[channel])  # type: ignore[arg-type]
    first = notifier.send(Message(title="one", body="b", run_id=run_id))
    second = notifier.send(Message(title="two", body="b", run_id=run_id))
    assert first.message.audit_head and second.message.audit_head
    # the first send was recorded (evidence + notify.sent): the second one publishes a later head
    assert second.message.audit_head["seq"] > first.message.audit_head["seq"]
    sent = [e for e in engine.events(run_id) if e.type == "notify.sent"]
    assert [e.payload["audit_head"]["seq"] for e in sent] == [
        first.message.audit_head["seq"],
        second.message.audit_head["seq"],
    ]
    by_seq = {e.seq: e.hash for e in engine.events(run_id)}
    assert all(by_seq[e.payload["audit_head"]["seq"]] == e.payload["audit_head"]["hash"] for e in sent)


def test_a_message_outside_a_run_has_no_head(engine: Engine, tmp_path: Path) -> None:
    notifier = Notifier([], outbox=tmp_path / "outbox.jsonl", cutover_dir=engine.cutover_dir)
    report = notifier.send(Message(title="hello", body="b"))
    assert report.message.audit_head is None and "audit head" not in report.message.text()


def test_an_alert_page_records_the_head_it_published(engine: Engine, tmp_path: Path) -> None:
    run_id = _run(engine)
    notifier = Notifier(
        [OutboxChannel("pager", "pagerduty", "on-call", tmp_path / "pager.jsonl")],
        outbox=tmp_path / "outbox.jsonl",
        cutover_dir=engine.cutover_dir,
    )
    desk = AlertDesk(
        store=engine.store,
        run_id=run_id,
        step_id="notify.start",
        notifier=notifier,
        escalation_rows=[{"severity": "HIGH", "response_time": "1h", "path": ["lead"]}],
        roles={"lead": Role(title="Lead", name="Dana Lee")},
    )
    raised = desk.raise_alert(key="k", severity="HIGH", title="SOQL 85%", body="over")
    assert raised is not None
    paged = read_json_lines(tmp_path / "pager.jsonl")[-1]
    notified = [e for e in engine.events(run_id) if e.type == "alert.notified"][-1]
    assert notified.payload["audit_head"] == paged["audit_head"]
    assert paged["audit_head"]["seq"] >= 3
