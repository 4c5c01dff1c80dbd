"""monitor.limits in an org that is not Elaro: no snapshot query unless declared; the declared scheduled jobs are
checked every sample (a job that disappears is a HIGH breach)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cutover.engine import Engine, StepContext, StepSpec, StepStatus
from cutover.runbook.models import Runbook, TargetConfig
from cutover.sf.results import OrgLimit, QueryResult, parse_query_result
from cutover.steps.monitor import MonitorLimitsStep
from cutover.steps.monitor_eval import evaluate, jobs_reading

T0 = datetime(2026, 11, 27, 23, 0, tzinfo=UTC)
JOB = {"name": "Nightly Cleanup", "class": "CleanupJob", "crons": ["0 0 2 * * ?"], "expected_state": "WAITING"}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Org:
    """An org with /limits, ApexLog and CronTrigger; the job vanishes after `job_until` samples."""

    clock: Clock
    job_until: int = 10**6
    samples: int = 0
    queried: list[str] = field(default_factory=list)

    def org_list_limits(self, alias: str) -> tuple[OrgLimit, ...]:
        self.samples += 1
        return (OrgLimit("DailyApiRequests", 100000, 99000),)  # max, remaining: 1 % used

    def data_query(self, alias: str, soql: str, **_: Any) -> QueryResult:
        table = soql.split(" FROM ")[1].split()[0]
        self.queried.append(table)
        rows: list[dict[str, Any]] = []
        if table == "CronTrigger" and self.samples <= self.job_until:
            next_fire = (self.clock.now + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
            rows = [
                {
                    "Id": "08e000000000001AAA",
                    "CronJobDetail": {"Name": "Nightly Cleanup"},
                    "CronExpression": "0 0 2 * * ?",
                    "State": "WAITING",
                    "NextFireTime": next_fire,
                }
            ]
        return parse_query_result({"records": rows, "done": True})


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(tmp_path)
    yield eng
    eng.close()


def run_step(engine: Engine, org: Org, clock: Clock, *, jobs: list[dict[str, Any]]) -> Any:
    @contextmanager
    def session(ctx: StepContext) -> Iterator[Org]:
        yield org

    run = engine.create_run("production", [StepSpec(id="monitor.limits", stage="monitor", title="m", action="x")])
    ctx = StepContext(
        store=engine.store, record=engine.store.step(run.id, "monitor.limits"), project_dir=engine.project_dir
    )
    step = MonitorLimitsStep(
        alias="production",
        make_sf=session,
        runbook=Runbook(target=TargetConfig(alias="production"), alerts={"channels": []}),
        duration=timedelta(minutes=30),
        interval=timedelta(minutes=15),
        limits_query=None,
        jobs=jobs,
        clock=clock,
        sleep=clock.sleep,
    )
    return step.run(ctx)


def test_a_generic_org_is_watched_without_any_custom_object(engine: Engine) -> None:
    clock = Clock()
    org = Org(clock)
    outcome = run_step(engine, org, clock, jobs=[JOB])
    assert outcome.status == StepStatus.PASSED, outcome.detail
    assert set(org.queried) == {"ApexLog", "CronTrigger"}  # no Governor_Limit_Snapshot__c, no metric queries
    assert org.queried.count("CronTrigger") == outcome.data["samples"] == 3


def test_a_scheduled_job_that_disappears_is_a_high_breach(engine: Engine) -> None:
    clock = Clock()
    org = Org(clock, job_until=1)
    outcome = run_step(engine, org, clock, jobs=[JOB])
    assert outcome.status == StepStatus.FAILED
    assert "Nightly Cleanup missing" in outcome.detail and outcome.data["worst_severity"] == "HIGH"


def test_no_declared_jobs_means_no_cron_query(engine: Engine) -> None:
    clock = Clock()
    org = Org(clock)
    assert run_step(engine, org, clock, jobs=[]).status == StepStatus.PASSED
    assert "CronTrigger" not in org.queried


def test_jobs_reading_is_a_breach_only_with_problems() -> None:
    assert evaluate([jobs_reading([], ["A"])]) == []
    [breach] = evaluate([jobs_reading(["A missing (no CronTrigger)"], [])])
    assert breach.severity == "HIGH" and "A missing" in breach.detail
