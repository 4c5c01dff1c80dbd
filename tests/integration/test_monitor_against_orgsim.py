"""Monitoring with the real sf CLI against orgsim: a short rehearsal window over `sf org list limits`, the runbook's
Governor_Limit_Snapshot__c query and ApexLog failures.

1. An org whose SOQL snapshot climbs past 80 % (`faults.limits_rising`): monitor.limits fails, one HIGH alert is
   in the outbox and the PagerDuty file channel with the HIGH escalation path (Deployment Lead → Engineering
   Manager, contacts TBD flagged); every sample is evidence; `cutover ack` acknowledges it.
2. The quiet production org through the CLI, window shortened with `cutover run --monitor-for/--monitor-every`,
   interrupted with Ctrl-C after its first sample and continued by `cutover resume` until the original end: passes.

Test 1 runs the steps in-process through `Engine.execute` with the registry's executors (no stand-ins).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from cutover.cli import main
from cutover.engine import Engine, StepStatus
from cutover.errors import StepFailed
from cutover.notify import load_alerts, read_json_lines
from cutover.runbook import load_runbook
from cutover.runbook.plan import build_plan
from cutover.steps import build_executors, plan_to_specs
from cutover.steps.registry import StepServices
from orgsim.scenario import builtin_scenario_path, scenario_from_dict
from orgsim.testing import OrgsimServer, login

pytestmark = pytest.mark.integration

RUNBOOK = """\
target:
  alias: production
  production: false
stages: [monitor]
scheduled_jobs: []  # each sample would also query CronTrigger; this test is about limits and their timing
monitoring:
  duration: {duration}
  interval: {interval}
  # The Elaro runbook's snapshot query (the generic default reads only the org's own limits).
  limits_query: >-
    SELECT Id, Name, Value__c FROM Governor_Limit_Snapshot__c WHERE CreatedDate = TODAY
    ORDER BY CreatedDate DESC LIMIT 10
  snapshot_names: {{SOQL: soql, DML: dml, CPU: cpu, Heap: heap}}
  metrics:
    - {{id: soql, group: Governor Limits Dashboard, title: SOQL queries, check: limit, limit: soql}}
    - {{id: cpu, group: Governor Limits Dashboard, title: CPU time, check: limit, limit: cpu}}
alerts:
  channels:
    - {{id: slack, type: slack, target: "#elaro-production-alerts"}}
    - {{id: pagerduty, type: pagerduty, target: on-call, url: "file://pager.jsonl", min_severity: HIGH}}
  escalation:  # the seed's HIGH row
    - {{severity: HIGH, response_time: 1h, path: [deployment_lead, engineering_manager]}}
roles:
  deployment_lead: {{title: Deployment Lead}}
  developer: {{title: Developer}}
  qa_lead: {{title: QA Lead}}
  security_reviewer: {{title: Security Reviewer}}
  engineering_manager: {{title: Engineering Manager}}
"""


def start_org(tmp_path: Path, sf_bin: Path, sf_home: Path, faults: dict[str, Any] | None = None) -> OrgsimServer:
    path = builtin_scenario_path("production")
    data = yaml.safe_load(path.read_text())
    data["faults"] = faults or {}
    server = OrgsimServer(tmp_path / "org", scenario_from_dict(data, base_dir=path.parent, source="test"))
    login(sf_bin, sf_home, server.url, server.token, alias="production")
    return server


def run_monitor(project: Path) -> tuple[Engine, str, BaseException | None]:
    runbook = load_runbook(project / "cutover.yaml")
    plan = [p for p in build_plan(runbook) if p.id in ("monitor.alert-routing", "monitor.limits")]
    specs = plan_to_specs(plan, runbook)
    engine = Engine(project)
    run = engine.create_run("production", specs)
    services = StepServices(project_dir=project, target_org="production")
    executors = build_executors(plan, runbook, services, [s.id for s in specs])
    try:
        engine.execute(run.id, executors)
    except StepFailed as exc:
        return engine, run.id, exc
    return engine, run.id, None


def evidence(engine: Engine, run_id: str, step_id: str) -> dict[str, Path]:
    return {e["name"]: engine.cutover_dir / e["relpath"] for e in engine.store.evidence(run_id, step_id)}


def test_rising_soql_crosses_its_threshold_and_alerts_with_the_high_path(
    tmp_path: Path, sf_bin: Path, sf_home: Path, sf_environment: dict[str, str], capsys
) -> None:
    rising = {
        "start": "immediately",
        "limits": {},
        "snapshots": {"SOQL Queries": 300.0},  # 34 % + 5 points a second, held at 90 %: HIGH, never CRITICAL
        "snapshot_interval_seconds": 1,
        "cap_percent": 90,
    }
    server = start_org(tmp_path, sf_bin, sf_home, {"limits_rising": rising})
    project = tmp_path / "project"
    project.mkdir()
    (project / "cutover.yaml").write_text(RUNBOOK.format(duration="12s", interval="4s"))
    try:
        engine, run_id, failure = run_monitor(project)
    finally:
        server.stop()
    try:
        assert failure is not None and "monitor.limits" in str(failure)
        record = engine.store.step(run_id, "monitor.limits")
        assert record is not None and record.status == StepStatus.FAILED
        assert "threshold crossed" in record.detail and "SOQL queries" in record.detail
        routing = engine.store.step(run_id, "monitor.alert-routing")
        assert routing is not None and routing.status == StepStatus.PASSED

        [alert] = load_alerts(engine.store, run_id)
        assert alert.severity == "HIGH" and alert.data["metric"] == "soql" and alert.data["value"] >= 80
        assert [c.title for c in alert.policy.path] == ["Deployment Lead", "Engineering Manager"]
        pages = read_json_lines(project / "pager.jsonl")
        [page] = [p for p in pages if p.get("alert_id") == alert.id]
        assert page["severity"] == "HIGH" and page["title"].startswith("SOQL queries")
        assert page["recipients"][0].startswith("Paging: Deployment Lead (contact TBD)")
        assert page["recipients"][2] == "Not acknowledged by then: escalates to Engineering Manager (contact TBD)"
        outbox = read_json_lines(project / ".cutover" / "runs" / run_id / "outbox.jsonl")
        assert [o["event"] for o in outbox] == ["monitoring_started", "alert"]
        slack = next(d for d in outbox[1]["deliveries"] if d["channel"] == "slack")
        assert slack["status"] == "not_sent"  # no url: recorded, and said so

        files = evidence(engine, run_id, "monitor.limits")
        series = json.loads(files["limits-timeseries.json"].read_text())
        assert len(series["samples"]) >= 3
        soql = [r["value"] for s in series["samples"] for r in s["readings"] if r["metric"] == "soql"]
        assert soql == sorted(soql) and soql[-1] >= 80  # the snapshot climbs sample after sample
        assert any(r["metric"] == "org:DailyApiRequests" for r in series["samples"][0]["readings"])
        assert "soql,snapshot" in files["limits-timeseries.csv"].read_text()
        assert any(name.endswith("org-list-limits.json") for name in files)  # the first sample's sf envelope
        assert engine.verify(run_id).ok
    finally:
        engine.close()

    assert main(["-C", str(project), "ack", alert.id, "--by", "Dana Lee"]) == 0
    assert main(["-C", str(project), "alerts", run_id, "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert f"{alert.id} (HIGH" in out and "acknowledged by Dana Lee" in out
    rows = json.loads(out[out.index("{") :])
    assert rows["alerts"][0]["state"] == "acknowledged"


def test_a_quiet_org_interrupted_mid_window_resumes_until_the_original_end(
    tmp_path: Path, sf_bin: Path, sf_home: Path, sf_environment: dict[str, str]
) -> None:
    """`cutover run --monitor-for 20s --monitor-every 4s`, Ctrl-C after the first sample (exit 130, the step stays
    running, the partial series is evidence), then `cutover resume`: the same window continues to its recorded end
    and passes."""
    server = start_org(tmp_path, sf_bin, sf_home)
    project = tmp_path / "project"
    project.mkdir()
    (project / "cutover.yaml").write_text(RUNBOOK.format(duration="24h", interval="15m"))
    cutover = Path(sys.executable).parent / "cutover"
    try:
        proc = subprocess.Popen(
            [str(cutover), "-C", str(project), "run", "--monitor-for", "20s", "--monitor-every", "4s"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        engine = Engine(project)
        try:
            run_id = wait_for_sample(engine, proc)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 130, err
            assert f"cutover resume {run_id}" in err
            record = engine.store.step(run_id, "monitor.limits")
            assert record is not None and record.status == StepStatus.RUNNING
            window = record.external_ids["monitor_window"]
            assert "limits-timeseries-partial.json" in evidence(engine, run_id, "monitor.limits")
        finally:
            engine.close()

        assert main(["-C", str(project), "resume"]) == 4  # monitoring done; the 24 h checklist waits for a sign-off
    finally:
        server.stop()
    engine = Engine(project)
    try:
        record = engine.store.step(run_id, "monitor.limits")
        assert record is not None and record.status == StepStatus.PASSED, record.detail
        assert "no threshold crossed" in record.detail and "soql max 34%" in record.detail
        assert record.external_ids["monitor_window"] == window  # same window, same end
        assert window["interval_seconds"] == 4 and window["end"]
        events = engine.store.events(run_id)
        samples = [e.payload for e in events if e.type == "monitor.sample"]
        assert [s["n"] for s in samples] == list(range(1, len(samples) + 1))  # numbering continues across the resume
        assert samples[-1]["at"] >= window["end"]  # watched until the original end
        assert any(e.type == "monitor.resumed" for e in events)
        series = json.loads(evidence(engine, run_id, "monitor.limits")["limits-timeseries.json"].read_text())
        assert len(series["samples"]) == len(samples)
        assert load_alerts(engine.store, run_id) == []
        assert engine.verify(run_id).ok
    finally:
        engine.close()


def wait_for_sample(engine: Engine, proc: subprocess.Popen[str], timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"cutover run ended early ({proc.returncode}): {proc.communicate()[1][-2000:]}")
        runs = engine.runs()
        if runs and any(e.type == "monitor.sample" for e in engine.store.events(runs[-1].id)):
            return runs[-1].id
        time.sleep(0.5)
    proc.kill()
    raise AssertionError("no monitoring sample was recorded in time")
