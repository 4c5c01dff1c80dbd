"""`sf org list limits`, rising consumption during a monitoring window, and an injected GACK."""

from __future__ import annotations

from pathlib import Path

from orgsim.testing import login, run_sf

SNAPSHOTS = "SELECT Name, Value__c FROM Governor_Limit_Snapshot__c WHERE Name = 'SOQL Queries' ORDER BY CreatedDate"


def test_org_list_limits(production_org, sf_bin: Path, sf_home: Path) -> None:
    run = run_sf(sf_bin, ["org", "list", "limits", "--target-org", "production"], sf_home)
    assert run.returncode == 0, run
    limits = {entry["name"]: entry for entry in run.json["result"]}
    assert limits["DailyApiRequests"]["max"] == 100000
    # The scenario's remaining count, less the API calls this org has served so far.
    assert 96400 < limits["DailyApiRequests"]["remaining"] < 96480
    assert limits["DailyAsyncApexExecutions"] == {
        "name": "DailyAsyncApexExecutions",
        "max": 250000,
        "remaining": 248115,
    }
    assert len(limits) > 40


def test_limits_rise_after_a_deploy(orgsim_factory, sf_bin: Path, sf_home: Path) -> None:
    server = orgsim_factory(
        {
            "records": {"Governor_Limit_Snapshot__c": [{"Name": "SOQL Queries", "Value__c": 30}]},
            "faults": {
                "limits_rising": {
                    "start": "after_deploy",
                    "limits": {"DailyAsyncApexExecutions": 5},
                    "snapshots": {"SOQL Queries": 10},
                    "snapshot_interval_seconds": 60,
                }
            },
        }
    )
    login(sf_bin, sf_home, server.url, server.token, alias="org")
    server.org.after_deploy({"id": "0Af000000000001AAA", "success": True})
    server.org.advance_clock(6 * 60)  # six minutes into the monitoring window
    limits = run_sf(sf_bin, ["org", "list", "limits", "--target-org", "org"], sf_home)
    async_apex = next(e for e in limits.json["result"] if e["name"] == "DailyAsyncApexExecutions")
    # 5 % of Max a minute for 6 minutes (plus the few seconds the CLI takes to start).
    assert 250000 * 0.68 < async_apex["remaining"] <= 250000 * 0.70
    snapshots = run_sf(sf_bin, ["data", "query", "--query", SNAPSHOTS, "--target-org", "org"], sf_home)
    values = [r["Value__c"] for r in snapshots.json["result"]["records"]]
    # 30 + 10 points a minute × 6, plus the real seconds sf takes to start (up to 30 s on a loaded machine)
    assert values[0] == 30 and 90 <= values[-1] < 95


def test_one_http_500_is_retried_by_the_cli(orgsim_factory, sf_bin: Path, sf_home: Path) -> None:
    server = orgsim_factory({"faults": {"http_errors": [{"operation": "limits", "on_call": 1, "status": 500}]}})
    login(sf_bin, sf_home, server.url, server.token, alias="org")
    run = run_sf(sf_bin, ["org", "list", "limits", "--target-org", "org"], sf_home)
    # jsforce retries GETs on 5xx (up to 5 times, 0.5 s backoff doubling), so one failure is invisible...
    assert run.returncode == 0, run
    # ...but it happened: the second call got the answer.
    assert server.org.call_counts()["limits"] == 2
