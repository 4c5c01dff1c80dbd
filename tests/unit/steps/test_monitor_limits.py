"""monitor.limits: threshold evaluation, severity mapping, and the sampling loop with a fake clock and scripted sf."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cutover.engine import Engine, StepContext, StepSpec, StepStatus
from cutover.notify import load_alerts, read_json_lines
from cutover.runbook.models import Role, Runbook, TargetConfig
from cutover.sf import SfApiError
from cutover.sf.results import OrgLimit, QueryResult, parse_query_result
from cutover.steps.monitor import (
    CRITICAL_PERCENT,
    MonitorLimitsStep,
    Reading,
    breach_severity,
    evaluate,
    org_limit_readings,
    query_reading,
    snapshot_readings,
    timeseries_csv,
    window_overrides,
)
from cutover.steps.registry import StepServices

T0 = datetime(2026, 11, 27, 23, 0, tzinfo=UTC)
THRESHOLDS = {"soql": 80.0, "dml": 80.0, "cpu": 75.0, "heap": 70.0}
NAMES = {"SOQL": "soql", "DML": "dml", "CPU": "cpu", "Heap": "heap"}
LIMITS_QUERY = "SELECT Id, Name, Value__c FROM Governor_Limit_Snapshot__c"
AUDIT_METRIC = {
    "id": "audit-logs-created",
    "title": "Audit logs being created",
    "check": "query",
    "query": "SELECT Id FROM Elaro_Audit_Log__c LIMIT 1",
    "expect": "nonzero",
    "severity": "CRITICAL",
}


# -- pure evaluation ---------------------------------------------------------------------------------------------------
def test_breach_severity_mapping() -> None:
    assert breach_severity(79.9, 80) is None
    assert breach_severity(80, 80) == "HIGH"  # "< 80% of limit" is the healthy side: 80 itself is a breach
    assert breach_severity(90, 80, "MEDIUM") == "MEDIUM"
    assert breach_severity(CRITICAL_PERCENT, 80) == "CRITICAL"
    assert breach_severity(None, 80) is None and breach_severity(99, None) is None


def test_latest_snapshot_per_limit_is_compared_with_its_threshold() -> None:
    rows = [  # newest first, as the runbook's query orders them
        {"Name": "SOQL Queries", "Value__c": 82},
        {"Name": "Heap Size", "Value__c": 69.9},
        {"Name": "SOQL Queries", "Value__c": 40},  # older: ignored
        {"Name": "CPU Time", "Value__c": 96},
        {"Name": "Callouts", "Value__c": 99},  # not a runbook limit
        {"Name": "DML Statements", "Value__c": "n/a"},  # unreadable value: skipped
    ]
    readings = snapshot_readings(
        rows, NAMES, THRESHOLDS, [{"check": "limit", "limit": "soql", "title": "SOQL queries"}]
    )
    assert {r.metric: r.value for r in readings} == {"cpu": 96.0, "heap": 69.9, "soql": 82.0}
    assert next(r for r in readings if r.metric == "soql").title == "SOQL queries"
    breaches = {b.metric: b.severity for b in evaluate(readings)}
    assert breaches == {"soql": "HIGH", "cpu": "CRITICAL"}


def test_org_limits_query_metrics_apex_failures_and_errors() -> None:
    limits = [OrgLimit("DailyApiRequests", 100000, 15000), OrgLimit("Empty", 0, 0), OrgLimit("Async", 100, 90)]
    org = org_limit_readings(limits, 80.0)
    assert [(r.metric, r.value) for r in org] == [("org:DailyApiRequests", 85.0), ("org:Async", 10.0)]
    readings = [
        *org,
        query_reading(AUDIT_METRIC, 0),
        query_reading({**AUDIT_METRIC, "id": "ok"}, 3),
        Reading("apex-failures", "Apex transactions that failed", "apex_logs", 2.0, 0.0, "CRITICAL", unit="logs"),
        Reading("snapshots", "Governor_Limit_Snapshot__c", "error", None, detail="INVALID_TYPE"),
    ]
    got = {b.metric: b.severity for b in evaluate(readings)}
    assert got == {
        "org:DailyApiRequests": "HIGH",
        "query:audit-logs-created": "CRITICAL",
        "apex-failures": "CRITICAL",
        "snapshots": "MEDIUM",
    }


# -- the loop ----------------------------------------------------------------------------------------------------------
class FakeClock:
    """Time advances only when the step sleeps (plus a little per sf call), so a 24 h window runs instantly."""

    def __init__(self) -> None:
        self.now = T0
        self.slept = 0.0

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += timedelta(seconds=seconds)


@dataclass
class FakeSf:
    """Answers like the SfCli methods the monitor calls; `soql_at` gives the SOQL snapshot value per call."""

    clock: FakeClock
    soql_at: Callable[[int], float] = lambda n: 30.0
    audit_rows: int = 1
    apex_failures: int = 0
    broken_snapshots: bool = False
    samples: int = 0
    calls: list[str] = field(default_factory=list)

    def org_list_limits(self, alias: str) -> tuple[OrgLimit, ...]:
        self.samples += 1
        self.calls.append("limits")
        self.clock.now += timedelta(milliseconds=300)
        return (OrgLimit("DailyApiRequests", 100000, 96000),)

    def data_query(self, alias: str, soql: str, **_: Any) -> QueryResult:
        self.calls.append(soql.split(" FROM ")[1].split()[0])
        if "Governor_Limit_Snapshot__c" in soql:
            if self.broken_snapshots:
                raise SfApiError("sObject type 'Governor_Limit_Snapshot__c' is not supported.")
            rows = [
                {"Name": "SOQL Queries", "Value__c": self.soql_at(self.samples)},
                {"Name": "CPU Time", "Value__c": 41},
            ]
        elif "Elaro_Audit_Log__c" in soql:
            rows = [{"Id": f"a0{i}"} for i in range(self.audit_rows)]
        else:  # ApexLog
            rows = [{"Operation": "/apex/X", "Status": "System.LimitException"} for _ in range(self.apex_failures)]
        return parse_query_result({"records": rows, "done": True})


def session_of(fake: FakeSf) -> Callable[[StepContext], Any]:
    @contextmanager
    def open_session(ctx: StepContext) -> Iterator[FakeSf]:
        yield fake

    return open_session


def runbook() -> Runbook:
    roles = {
        "deployment_lead": Role(title="Deployment Lead", name="Dana Lee", email="dana@solentra.com"),
        "developer": Role(title="Developer", name="Dev", email="dev@x.com"),
        "qa_lead": Role(title="QA Lead", name="Q", email="q@x.com"),
        "security_reviewer": Role(title="Security Reviewer", name="S", email="s@x.com"),
        "customer_support": Role(title="Customer Support"),
        "engineering_manager": Role(title="Engineering Manager"),
        "vp_engineering": Role(title="VP of Engineering", required=False),
        "security_lead": Role(title="Security Lead", required=False),
        "cto": Role(title="CTO"),
    }
    channels = [{"id": "pagerduty", "type": "pagerduty", "target": "on-call", "url": "file://pager.jsonl"}]
    escalation = [  # the seed's escalation table (the generic default pages only the deployment lead)
        {"severity": "CRITICAL", "response_time": "15m", "path": ["deployment_lead", "cto"]},
        {"severity": "HIGH", "response_time": "1h", "path": ["deployment_lead", "engineering_manager"]},
    ]
    return Runbook(
        target=TargetConfig(alias="production"), roles=roles, alerts={"channels": channels, "escalation": escalation}
    )


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(tmp_path)
    yield eng
    eng.close()


def make_ctx(engine: Engine) -> StepContext:
    run = engine.create_run("production", [StepSpec(id="monitor.limits", stage="monitor", title="m", action="x")])
    return StepContext(
        store=engine.store, record=engine.store.step(run.id, "monitor.limits"), project_dir=engine.project_dir
    )


def make_step(fake: FakeSf, clock: FakeClock, *, duration: timedelta, interval: timedelta) -> MonitorLimitsStep:
    return MonitorLimitsStep(
        alias="production",
        make_sf=session_of(fake),
        runbook=runbook(),
        duration=duration,
        interval=interval,
        limits_query=LIMITS_QUERY,
        snapshot_names=NAMES,
        thresholds=THRESHOLDS,
        metrics=[{"check": "limit", "limit": "soql", "title": "SOQL queries", "severity": "HIGH"}, AUDIT_METRIC],
        clock=clock,
        sleep=clock.sleep,
    )


def evidence_names(ctx: StepContext) -> list[str]:
    return [e["name"] for e in ctx.store.evidence(ctx.run_id, ctx.step.id)]


def test_a_quiet_24h_window_passes_with_a_time_series(engine: Engine, tmp_path: Path) -> None:
    clock = FakeClock()
    fake = FakeSf(clock)
    ctx = make_ctx(engine)
    outcome = make_step(fake, clock, duration=timedelta(hours=24), interval=timedelta(minutes=15)).run(ctx)
    assert outcome.status == StepStatus.PASSED, outcome.detail
    assert outcome.data["samples"] == 97  # t=0, every 15 min, and the window's end
    assert "no threshold crossed" in outcome.detail and "soql max 30%" in outcome.detail
    assert {"limits-timeseries.json", "limits-timeseries.csv"} <= set(evidence_names(ctx))
    csv_text = (
        ctx.store.cutover_dir
        / next(
            e["relpath"] for e in ctx.store.evidence(ctx.run_id, ctx.step.id) if e["name"] == "limits-timeseries.csv"
        )
    ).read_text()
    assert csv_text.splitlines()[0] == "sample,at,metric,source,value,unit,threshold,status,severity"
    assert "1,2026-11-27T23:00:00Z,soql,snapshot,30,%,80,ok," in csv_text
    assert load_alerts(engine.store, ctx.run_id) == []
    window = engine.store.step(ctx.run_id, "monitor.limits").external_ids["monitor_window"]
    assert window["end"] == "2026-11-28T23:00:00Z"


def test_rising_soql_raises_one_high_alert_then_a_critical_one(engine: Engine, tmp_path: Path) -> None:
    clock = FakeClock()
    fake = FakeSf(clock, soql_at=lambda n: 60.0 + 10 * n)  # 70, 80, 90, 100, ...
    ctx = make_ctx(engine)
    outcome = make_step(fake, clock, duration=timedelta(minutes=5), interval=timedelta(minutes=1)).run(ctx)
    assert outcome.status == StepStatus.FAILED
    assert outcome.data["critical"] is True and outcome.data["rollback_recommended"] is True
    alerts = load_alerts(engine.store, ctx.run_id)
    assert [(a.severity, a.data["metric"]) for a in alerts] == [("HIGH", "soql"), ("CRITICAL", "soql")]
    assert "threshold crossed" in outcome.detail and alerts[0].id in outcome.detail
    paged = read_json_lines(tmp_path / "pager.jsonl")
    assert [p["severity"] for p in paged] == ["HIGH", "CRITICAL"]
    assert paged[0]["recipients"][0] == "Paging: Deployment Lead (Dana Lee, dana@solentra.com)"
    assert paged[1]["recipients"][2] == "Not acknowledged by then: escalates to CTO (contact TBD)"
    outbox = read_json_lines(tmp_path / ".cutover" / "runs" / ctx.run_id / "outbox.jsonl")
    assert [o["event"] for o in outbox] == ["alert", "alert"]
    events = [e.type for e in engine.store.events(ctx.run_id)]
    assert events.count("monitor.sample") == 6 and "notify.sent" in events


def test_unacknowledged_alert_escalates_during_the_window(engine: Engine, tmp_path: Path) -> None:
    clock = FakeClock()
    fake = FakeSf(clock, soql_at=lambda n: 85.0 if n == 1 else 50.0)  # one HIGH breach at the start
    ctx = make_ctx(engine)
    outcome = make_step(fake, clock, duration=timedelta(hours=3), interval=timedelta(minutes=15)).run(ctx)
    assert outcome.status == StepStatus.FAILED
    [alert] = load_alerts(engine.store, ctx.run_id)
    assert alert.notified_levels == (0, 1)  # HIGH: 1 h to respond, then the Engineering Manager
    escalated = read_json_lines(tmp_path / "pager.jsonl")[1]
    assert escalated["title"].startswith("ESCALATED (2/2)")
    assert escalated["recipients"][0].startswith("Escalated to: Engineering Manager (contact TBD)")


def test_apex_failures_and_a_missing_audit_trail_are_critical(engine: Engine) -> None:
    clock = FakeClock()
    fake = FakeSf(clock, audit_rows=0, apex_failures=2)
    ctx = make_ctx(engine)
    outcome = make_step(fake, clock, duration=timedelta(minutes=2), interval=timedelta(minutes=1)).run(ctx)
    assert outcome.status == StepStatus.FAILED and outcome.data["worst_severity"] == "CRITICAL"
    keys = sorted(a.data["metric"] for a in load_alerts(engine.store, ctx.run_id))
    assert keys == ["apex-failures", "query:audit-logs-created"]


def test_a_metric_never_readable_fails_the_step(engine: Engine) -> None:
    clock = FakeClock()
    fake = FakeSf(clock, broken_snapshots=True)
    ctx = make_ctx(engine)
    outcome = make_step(fake, clock, duration=timedelta(minutes=2), interval=timedelta(minutes=1)).run(ctx)
    assert outcome.status == StepStatus.FAILED
    assert "could not read governor-limit snapshots (monitoring.limits_query) in any of 3 sample(s)" in outcome.detail
    [alert] = load_alerts(engine.store, ctx.run_id)  # one MEDIUM alert, not one per sample
    assert alert.severity == "MEDIUM"


def test_resume_continues_until_the_original_end_with_recorded_samples(engine: Engine) -> None:
    clock = FakeClock()
    ctx = make_ctx(engine)

    class Crash(BaseException):
        pass

    fake = FakeSf(clock)
    step = make_step(fake, clock, duration=timedelta(hours=1), interval=timedelta(minutes=15))

    def crash_on_third_sleep(seconds: float) -> None:
        if clock.slept >= 30 * 60:
            raise Crash()
        clock.sleep(seconds)

    step.sleep = crash_on_third_sleep
    with pytest.raises(Crash):
        step.run(ctx)
    assert "limits-timeseries-partial.json" in evidence_names(ctx)
    taken = fake.samples

    clock.now += timedelta(minutes=10)  # cutover was down for a while
    step.sleep = clock.sleep
    record = engine.store.step(ctx.run_id, "monitor.limits")
    resumed_ctx = StepContext(store=engine.store, record=record, project_dir=engine.project_dir)
    outcome = step.reattach(resumed_ctx, record.external_ids)
    assert outcome.status == StepStatus.PASSED
    assert clock.now >= T0 + timedelta(hours=1) and clock.now < T0 + timedelta(hours=1, minutes=1)
    assert taken == 3 and fake.samples > taken
    assert outcome.data["samples"] == fake.samples  # the samples before the crash count: read back from the events
    assert outcome.data["window"]["end"] == "2026-11-28T00:00:00Z"
    assert any(e.type == "monitor.resumed" for e in engine.store.events(ctx.run_id))


def test_cancellation_finishes_cleanly_with_the_partial_series(engine: Engine) -> None:
    import threading

    clock = FakeClock()
    cancelled = threading.Event()
    run = engine.create_run("production", [StepSpec(id="monitor.limits", stage="monitor", title="m", action="x")])
    ctx = StepContext(
        store=engine.store,
        record=engine.store.step(run.id, "monitor.limits"),
        project_dir=engine.project_dir,
        cancelled=cancelled,
    )
    step = make_step(FakeSf(clock), clock, duration=timedelta(hours=24), interval=timedelta(minutes=15))

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.slept > 3600:
            cancelled.set()

    step.sleep = sleep
    outcome = step.run(ctx)
    assert outcome.status == StepStatus.FAILED and "cancelled after 5 sample(s)" in outcome.detail
    assert "limits-timeseries-partial.csv" in evidence_names(ctx)


def test_rehearsal_overrides_from_services_or_environment() -> None:
    services = StepServices(project_dir=Path("."), target_org="x", extras={"monitor_overrides": {"duration": "30s"}})
    assert window_overrides(services, {"CUTOVER_MONITOR_EVERY": "5s"}) == (timedelta(seconds=30), timedelta(seconds=5))
    assert window_overrides(StepServices(project_dir=Path("."), target_org="x"), {}) == (None, None)
    from cutover.errors import UsageError

    with pytest.raises(UsageError, match="duration override"):
        window_overrides(StepServices(project_dir=Path("."), target_org="x"), {"CUTOVER_MONITOR_FOR": "soon"})


def test_csv_marks_breaches() -> None:
    from cutover.steps.monitor import Sample

    readings = [Reading("soql", "SOQL", "snapshot", 85.0, 80.0)]
    text = timeseries_csv([Sample(1, T0, readings, evaluate(readings))])
    assert text.splitlines()[1] == "1,2026-11-27T23:00:00Z,soql,snapshot,85,%,80,breach,HIGH"


def test_run_command_refuses_a_bad_monitor_override_before_starting(tmp_path: Path, capsys) -> None:
    from cutover.cli import main

    (tmp_path / "cutover.yaml").write_text("target:\n  alias: production\n  production: false\nstages: [monitor]\n")
    assert main(["-C", str(tmp_path), "run", "--monitor-for", "soon", "--yes"]) == 2
    assert "--monitor-for: 'soon' is not a duration" in capsys.readouterr().err
    assert not (tmp_path / ".cutover" / "runs").exists() or not any((tmp_path / ".cutover" / "runs").iterdir())
