"""The `notify` action and `cutover announce` (the preflight stakeholder-notification sign-off)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from cutover.cli import main
from cutover.engine import Engine, StepContext, StepSpec, StepStatus
from cutover.notify import load_alerts, read_json_lines
from cutover.runbook import template_text
from cutover.runbook.models import Runbook, TargetConfig
from cutover.runbook.plan import build_plan, build_rollback_plan
from cutover.steps.post_deploy import NotifyStep, _notify, routing_table
from cutover.steps.registry import StepServices

RUNBOOK_YAML = """\
target:
  alias: production
alerts:
  channels:
    - {id: email, type: email, target: ops-team@solentra.com, url: "file://mail.jsonl"}
    - {id: slack, type: slack, target: "#elaro-production-alerts"}
    - {id: pagerduty, type: pagerduty, target: on-call, url: "file://pager.jsonl", min_severity: HIGH}
"""


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(tmp_path)
    yield eng
    eng.close()


def seed_runbook() -> Runbook:
    channels = [
        {"id": "email", "type": "email", "target": "ops-team@solentra.com", "url": "file://mail.jsonl"},
        {"id": "slack", "type": "slack", "target": "#elaro-production-alerts"},
        {
            "id": "pagerduty",
            "type": "pagerduty",
            "target": "on-call",
            "url": "file://pager.jsonl",
            "min_severity": "HIGH",
        },
    ]
    seed = yaml.safe_load(template_text())  # the Elaro seed runbook (escalation, known issues), these channels
    seed["alerts"]["channels"] = channels
    return Runbook.model_validate(seed)


def ctx_for(engine: Engine, step_id: str) -> StepContext:
    run = engine.create_run(
        "production", [StepSpec(id=step_id, stage=step_id.split(".")[0], title="t", action="notify")]
    )
    return StepContext(store=engine.store, record=engine.store.step(run.id, step_id), project_dir=engine.project_dir)


def plan_step(step_id: str, runbook: Runbook) -> object:
    return next(p for p in [*build_plan(runbook), *build_rollback_plan(runbook)] if p.id == step_id)


def test_deployment_announcement_goes_to_low_channels_and_never_pages(engine: Engine, tmp_path: Path) -> None:
    runbook = seed_runbook()
    step = _notify(plan_step("verify.announce", runbook), runbook, StepServices(tmp_path, "production"))
    ctx = ctx_for(engine, "verify.announce")
    outcome = step.run(ctx)
    assert outcome.status == StepStatus.PASSED
    assert outcome.data["sent"] == ["email"] and outcome.data["not_sent"] == ["slack"]
    assert "recorded only (no url): slack #elaro-production-alerts" in outcome.detail
    [mail] = read_json_lines(tmp_path / "mail.jsonl")
    assert mail["event"] == "deployment_succeeded" and "v3.0.0" in mail["title"]
    assert "Known issues:" in mail["body"] and "PDF Generation Timeout" in mail["body"]
    assert not (tmp_path / "pager.jsonl").exists()  # PagerDuty takes HIGH and above only
    names = [e["name"] for e in engine.store.evidence(ctx.run_id, "verify.announce")]
    assert names == ["notification-deployment_succeeded.json"]
    [line] = read_json_lines(tmp_path / ".cutover" / "runs" / ctx.run_id / "outbox.jsonl")
    assert [d["status"] for d in line["deliveries"]] == ["sent", "not_sent", "not_routed"]


def test_alert_routing_records_the_table_with_tbd_contacts(engine: Engine, tmp_path: Path) -> None:
    runbook = seed_runbook()
    table = routing_table(runbook)
    critical = table["severities"][0]
    assert critical["severity"] == "CRITICAL" and [c["id"] for c in critical["channels"]] == [
        "email",
        "slack",
        "pagerduty",
    ]
    assert [p["title"] for p in critical["escalation"]["path"]] == ["Deployment Lead", "CTO"]
    assert table["severities"][3]["severity"] == "LOW" and [c["id"] for c in table["severities"][3]["channels"]] == [
        "email",
        "slack",
    ]
    assert "CTO" in table["contacts_tbd"] and "Deployment Lead" in table["contacts_tbd"]
    step = _notify(plan_step("monitor.alert-routing", runbook), runbook, StepServices(tmp_path, "production"))
    ctx = ctx_for(engine, "monitor.alert-routing")
    assert step.run(ctx).status == StepStatus.PASSED
    assert "alert-routing.json" in [e["name"] for e in engine.store.evidence(ctx.run_id, ctx.step.id)]
    [mail] = read_json_lines(tmp_path / "mail.jsonl")
    assert "CRITICAL: respond within 15 min; Deployment Lead (contact TBD) → CTO (contact TBD)" in mail["body"]


def test_rollback_notification_is_a_critical_alert_that_pages(engine: Engine, tmp_path: Path) -> None:
    runbook = seed_runbook()
    step = _notify(plan_step("rollback.notify", runbook), runbook, StepServices(tmp_path, "production"))
    assert isinstance(step, NotifyStep) and step.severity == "CRITICAL"
    ctx = ctx_for(engine, "rollback.notify")
    with engine.store.transaction() as tx:
        tx.append_event(ctx.run_id, "rollback.started", "verify.apex-tests", {"reason": "2 tests failed"})
    outcome = step.run(ctx)
    assert outcome.status == StepStatus.PASSED and outcome.data["alert_id"]
    [page] = read_json_lines(tmp_path / "pager.jsonl")
    assert page["severity"] == "CRITICAL" and "2 tests failed (trigger: verify.apex-tests)" in page["body"]
    assert (
        page["recipients"][0]
        == "Paging: Deployment Lead (contact TBD)  ⚠ no contact in the runbook (TBD): page them by hand"
    )
    [alert] = load_alerts(engine.store, ctx.run_id)
    assert alert.id == outcome.data["alert_id"] and f"cutover ack {alert.id}" in outcome.detail
    # Resumed after a crash: the same rollback is not announced twice.
    assert step.run(ctx).detail == "rollback alert already raised in this run"


def test_a_failing_channel_does_not_fail_the_announcement(engine: Engine, tmp_path: Path) -> None:
    runbook = Runbook(
        target=TargetConfig(alias="production"),
        alerts={"channels": [{"id": "hook", "type": "webhook", "target": "ops", "url": "json://${UNSET_HOOK_HOST}/"}]},
    )
    ctx = ctx_for(engine, "verify.announce")
    outcome = NotifyStep(runbook=runbook, alias="production", event="deployment_succeeded").run(ctx)
    assert outcome.status == StepStatus.PASSED and outcome.data["failed"] == ["hook"]
    assert "FAILED: webhook ops (environment variable(s) UNSET_HOOK_HOST not set" in outcome.detail
    assert any(e.type == "notify.failed" for e in engine.store.events(ctx.run_id))


def test_announce_sends_and_signs_the_stakeholder_notification(tmp_path: Path, capsys) -> None:
    (tmp_path / "cutover.yaml").write_text(RUNBOOK_YAML)
    assert main(["-C", str(tmp_path), "announce", "--by", "Dana Lee", "--message", "Status page updated."]) == 0
    out = capsys.readouterr().out
    assert "signed signoff.stakeholder-notification as deployment_lead" in out
    [mail] = read_json_lines(tmp_path / "mail.jsonl")
    assert mail["event"] == "deployment_scheduled" and "Status page updated." in mail["body"]
    engine = Engine(tmp_path)
    try:
        run = engine.open_run("production")
        assert run is not None
        [signed] = engine.store.signoffs(run.id, "signoff.stakeholder-notification")
        assert signed.by == "Dana Lee" and signed.evidence and mail["message_id"] in signed.evidence
        evidence = engine.store.evidence(run.id, "signoff.stakeholder-notification")
        assert [e["name"] for e in evidence] == ["notification-deployment_scheduled.json"]
    finally:
        engine.close()
    # The preflight gate reads sign-offs from the open run: the item is now satisfied.
    from cutover.runbook import load_runbook
    from cutover.steps.preflight import GateSpec, PreflightContext, _gate_signoff, signoff_view

    runbook = load_runbook(tmp_path / "cutover.yaml")
    spec = GateSpec("signoff.stakeholder-notification", "Deployment notification sent", "signoff", kind="signoff")
    from datetime import UTC, datetime

    result = _gate_signoff(
        spec, PreflightContext(tmp_path, runbook, datetime.now(UTC), signoff_view(tmp_path, runbook))
    )
    assert result.status.value == "passed" and "Dana Lee" in result.detail
    json.dumps(mail)  # the line is plain JSON


def test_alert_routing_plan_params_never_carry_a_channel_url() -> None:
    # Plan params are stored with the run (state.db) and printed by `cutover plan --json`; an apprise URL written
    # straight into the runbook carries its token (slack://T/B/C), so only the channel's description may go there.
    channels = [
        {"id": "slack", "type": "slack", "target": "#alerts", "url": "slack://T0SECRET1/B0SECRET2/XyZsecretToken9"},
        {"id": "pd", "type": "pagerduty", "target": "on-call", "url": "pagerduty://abcdef0123456789integrationkey"},
    ]
    runbook = Runbook(target=TargetConfig(alias="production"), alerts={"channels": channels})
    step = plan_step("monitor.alert-routing", runbook)
    stored = json.dumps(step.params)  # type: ignore[attr-defined]
    assert "XyZsecretToken9" not in stored and "integrationkey" not in stored
    assert [c["id"] for c in step.params["channels"]] == ["slack", "pd"]  # type: ignore[attr-defined]
