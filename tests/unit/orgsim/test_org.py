"""The Org runtime: limits, post-deploy symptoms, scheduled-job helpers and the clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from orgsim.org import Org
from orgsim.store import parse_datetime

JOBS = [
    {"name": "ElaroAuditTrailPoller", "class_name": "ElaroAuditTrailPoller", "cron": "0 0 * * * ?"},
    {"name": "RetentionEnforcementScheduler", "class_name": "RetentionEnforcementScheduler", "cron": "0 0 2 * * ?"},
]


def test_limits_overrides_and_api_calls(tmp_path: Path) -> None:
    org = Org(tmp_path / "org", {"limits": {"DailyApiRequests": {"Max": 1000, "Remaining": 900}}})
    limits = org.limits()
    assert limits["DailyApiRequests"] == {"Max": 1000, "Remaining": 900}
    assert limits["DailyAsyncApexExecutions"]["Max"] == 250000
    for _ in range(3):
        org.count_call("query")
    assert org.limits()["DailyApiRequests"]["Remaining"] == 897


def test_rising_limits_start_at_the_deploy_and_follow_the_clock(tmp_path: Path) -> None:
    org = Org(
        tmp_path / "org",
        {
            "records": {"Governor_Limit_Snapshot__c": [{"Name": "CPU Time", "Value__c": 40}]},
            "faults": {
                "limits_rising": {
                    "limits": {"DailyAsyncApexExecutions": 10},
                    "snapshots": {"CPU Time": 5},
                    "snapshot_interval_seconds": 60,
                    "cap_percent": 80,
                }
            },
        },
    )
    org.advance_clock(600)
    org.tick()
    assert org.limits()["DailyAsyncApexExecutions"]["Remaining"] == 250000  # nothing before a deploy
    assert len(org.store.list("Governor_Limit_Snapshot__c")) == 1
    org.after_deploy({"id": "0Af000000000001AAA"})
    org.advance_clock(120)
    org.tick()
    assert org.limits()["DailyAsyncApexExecutions"]["Remaining"] == pytest.approx(250000 * 0.8, abs=300)
    values = [r["Value__c"] for r in org.store.list("Governor_Limit_Snapshot__c")]
    assert values[0] == 40 and values[-1] == pytest.approx(50, abs=0.5)
    org.tick()  # within the interval: no new snapshot
    assert len(org.store.list("Governor_Limit_Snapshot__c")) == 2
    org.advance_clock(3600)
    org.tick()
    assert org.store.list("Governor_Limit_Snapshot__c")[-1]["Value__c"] == 80  # capped
    assert org.limits()["DailyAsyncApexExecutions"]["Remaining"] == pytest.approx(250000 * 0.2, abs=300)


def test_apexlog_failures_after_deploy(tmp_path: Path) -> None:
    org = Org(tmp_path / "org", {"faults": {"apexlog_failures_after_deploy": 3}})
    deployed_at = org.now()
    org.after_deploy({"id": "0Af000000000001AAA"})
    logs = org.store.list("ApexLog")
    assert len(logs) == 3
    assert all(log["Status"] != "Success" and "Exception" in log["Status"] for log in logs)
    assert all(parse_datetime(log["StartTime"]) > deployed_at for log in logs)
    assert org.store.get_setting("last_deploy_at") is not None


def test_abort_scheduled_jobs_by_prefix(tmp_path: Path) -> None:
    org = Org(tmp_path / "org", {"scheduled_jobs": JOBS})
    assert org.abort_scheduled_jobs("Elaro") == ["ElaroAuditTrailPoller"]
    assert org.scheduled_job_named("ElaroAuditTrailPoller") is None
    assert org.scheduled_job_named("RetentionEnforcementScheduler") is not None
    statuses = sorted(job["Status"] for job in org.store.find("AsyncApexJob", JobType="ScheduledApex"))
    assert statuses == ["Aborted", "Queued"]


def test_clock_offset_persists_and_reset_clears_it(tmp_path: Path) -> None:
    org = Org(tmp_path / "org")
    start = org.now()
    org.advance_clock(86400)
    org.close()
    reopened = Org(tmp_path / "org")
    assert (reopened.now() - start).total_seconds() >= 86400
    reopened.reset()
    assert (reopened.now() - start).total_seconds() < 60


def test_custom_object_prefixes_are_stable_across_restarts(tmp_path: Path) -> None:
    scenario = {"records": {"Elaro_Audit_Log__c": [{"Action__c": "x"}], "Compliance_Gap__c": [{"Status__c": "Open"}]}}
    first = Org(tmp_path / "org", scenario)
    prefixes = {name: first.key_prefix(name) for name in ("Elaro_Audit_Log__c", "Compliance_Gap__c")}
    first.close()
    second = Org(tmp_path / "org", scenario)
    assert {name: second.key_prefix(name) for name in prefixes} == prefixes
    assert second.store.list("Compliance_Gap__c")[0]["Id"].startswith(prefixes["Compliance_Gap__c"])
