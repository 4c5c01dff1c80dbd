"""`sf data query` against the production scenario: the runbook's own verification queries."""

from __future__ import annotations

from pathlib import Path

from orgsim.store import parse_datetime
from orgsim.testing import OrgsimServer, run_sf

CRON_QUERY = (
    "SELECT Id, CronJobDetail.Name, State, NextFireTime, PreviousFireTime FROM CronTrigger "
    "WHERE CronJobDetail.Name LIKE 'Elaro%' ORDER BY NextFireTime"
)


def test_runbook_scheduled_jobs_query(production_org: OrgsimServer, sf_bin: Path, sf_home: Path) -> None:
    run = run_sf(sf_bin, ["data", "query", "--query", CRON_QUERY, "--target-org", "production"], sf_home)
    assert run.returncode == 0, run
    result = run.json["result"]
    names = [record["CronJobDetail"]["Name"] for record in result["records"]]
    # The runbook's LIKE 'Elaro%' only matches three of its five jobs (two are named Retention.../Consent...).
    assert names == ["ElaroAuditTrailPoller", "ElaroCCPASLAMonitorScheduler", "ElaroGLBAAnnualNoticeBatch"]
    assert result["totalSize"] == 3 and result["done"] is True
    now = production_org.org.now()
    for record in result["records"]:
        assert record["State"] == "WAITING"
        assert parse_datetime(record["NextFireTime"]) > now
        assert record["Id"].startswith("08e") and len(record["Id"]) == 18


def test_invalid_field_is_a_salesforce_error(production_org: OrgsimServer, sf_bin: Path, sf_home: Path) -> None:
    # The runbook's Appendix A query: real ApexLog has no Message or LogCategory field.
    soql = "SELECT Id, Message, CreatedDate FROM ApexLog WHERE LogCategory = 'Apex' AND CreatedDate = TODAY LIMIT 100"
    run = run_sf(sf_bin, ["data", "query", "--query", soql, "--target-org", "production"], sf_home)
    assert run.returncode == 1, run
    assert run.json["name"] == "INVALID_FIELD"
    assert "No such column 'Message' on entity 'ApexLog'" in run.json["message"]


def test_tooling_query_of_apex_classes(production_org: OrgsimServer, sf_bin: Path, sf_home: Path) -> None:
    args = [
        "data",
        "query",
        "--use-tooling-api",
        "--target-org",
        "production",
        "--query",
        "SELECT Name, Status FROM ApexClass WHERE Name LIKE 'Elaro%Scheduler' ORDER BY Name",
    ]
    run = run_sf(sf_bin, args, sf_home)
    assert run.returncode == 0, run
    assert [r["Name"] for r in run.json["result"]["records"]] == ["ElaroCCPASLAMonitorScheduler"]
