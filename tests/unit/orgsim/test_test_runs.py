"""Tooling test runs: statuses progress with the org clock and results come from apexsim's simulation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from orgsim.org import Org
from orgsim.scenario import builtin_scenario_path
from orgsim.server import dispatch

T = "/services/data/v62.0/tooling"


def production(tmp_path: Path, **overrides: Any) -> Org:
    data = yaml.safe_load(builtin_scenario_path("production").read_text())
    data["metadata"]["seed_dir"] = str(builtin_scenario_path("production").parent / data["metadata"]["seed_dir"])
    data.update(overrides)
    return Org(tmp_path / "org", data)


def request(org: Org, method: str, path: str, payload: Any = None) -> Any:
    body = json.dumps(payload).encode() if payload is not None else b""
    response = dispatch(org, method, path, {"authorization": f"Bearer {org.access_token}"}, body)
    assert response.status < 300, response.body
    return json.loads(response.body)


def tooling_query(org: Org, soql: str) -> list[dict[str, Any]]:
    return request(org, "GET", f"{T}/query?q={soql.replace(' ', '+')}")["records"]


def test_run_progresses_queued_processing_completed(tmp_path: Path) -> None:
    org = production(tmp_path)
    job_id = request(
        org, "POST", f"{T}/runTestsAsynchronous", {"testLevel": "RunLocalTests", "skipCodeCoverage": False}
    )
    assert isinstance(job_id, str) and job_id.startswith("707") and len(job_id) == 18
    summary = (
        f"SELECT Status, ClassesEnqueued, MethodsEnqueued FROM ApexTestRunResult WHERE AsyncApexJobId = '{job_id}'"
    )
    first = tooling_query(org, summary)[0]
    assert first["Status"] == "Queued" and first["ClassesEnqueued"] >= 2 and first["MethodsEnqueued"] >= 5
    org.advance_clock(org.scenario.durations.test_seconds * 0.5)
    assert tooling_query(org, summary)[0]["Status"] == "Processing"
    assert tooling_query(org, "SELECT Id FROM ApexTestResult") == []
    org.advance_clock(org.scenario.durations.test_seconds)
    assert tooling_query(org, summary)[0]["Status"] == "Completed"
    items = tooling_query(org, f"SELECT Id, Status, ApexClassId FROM ApexTestQueueItem WHERE ParentJobId = '{job_id}'")
    assert {item["Status"] for item in items} == {"Completed"} and all(item["ApexClassId"] for item in items)
    results = tooling_query(
        org,
        "SELECT MethodName, Outcome, ApexClass.Name, QueueItemId FROM ApexTestResult WHERE AsyncApexJobId = "
        f"'{job_id}'",
    )
    assert len(results) == first["MethodsEnqueued"]
    assert {r["Outcome"] for r in results} == {"Pass"}
    assert {r["QueueItemId"] for r in results} == {item["Id"] for item in items}
    assert "ElaroLoggerTest" in {r["ApexClass"]["Name"] for r in results}


def test_coverage_records_follow_the_scenario(tmp_path: Path) -> None:
    org = production(tmp_path, apex={"default_coverage": 90, "coverage": {"ElaroLogger": 50}})
    request(org, "POST", f"{T}/runTestsAsynchronous", {"testLevel": "RunLocalTests"})
    org.advance_clock(60)
    aggregates = tooling_query(
        org, "SELECT ApexClassOrTrigger.Name, NumLinesCovered, NumLinesUncovered FROM ApexCodeCoverageAggregate"
    )
    by_name = {a["ApexClassOrTrigger"]["Name"]: a for a in aggregates}
    logger = by_name["ElaroLogger"]
    assert abs(100 * logger["NumLinesCovered"] / (logger["NumLinesCovered"] + logger["NumLinesUncovered"]) - 50) < 10
    assert not any(name.endswith("Test") for name in by_name)  # test classes are not measured
    per_test = tooling_query(
        org, "SELECT ApexTestClassId, TestMethodName, ApexClassOrTrigger.Name FROM ApexCodeCoverage"
    )
    assert {row["ApexClassOrTrigger"]["Name"] for row in per_test} == set(by_name)
    org_wide = tooling_query(org, "SELECT PercentCovered FROM ApexOrgWideCoverage")
    assert len(org_wide) == 1 and 50 < org_wide[0]["PercentCovered"] < 90


def test_failing_tests_and_specified_classes(tmp_path: Path) -> None:
    org = production(
        tmp_path,
        apex={
            "failing_tests": [{"test": "ElaroLoggerTest.writesAnAuditEntry", "message": "System.AssertException: boom"}]
        },
    )
    job_id = request(
        org,
        "POST",
        f"{T}/runTestsAsynchronous",
        {"tests": [{"className": "ElaroLoggerTest"}], "testLevel": "RunSpecifiedTests"},
    )
    org.advance_clock(60)
    results = tooling_query(
        org,
        "SELECT MethodName, Outcome, Message, StackTrace, ApexClass.Name FROM ApexTestResult "
        f"WHERE AsyncApexJobId = '{job_id}'",
    )
    assert {r["ApexClass"]["Name"] for r in results} == {"ElaroLoggerTest"}
    failed = [r for r in results if r["Outcome"] == "Fail"]
    assert [(r["MethodName"], r["Message"]) for r in failed] == [("writesAnAuditEntry", "System.AssertException: boom")]
    assert failed[0]["StackTrace"].startswith("Class.ElaroLoggerTest.writesAnAuditEntry: line ")


def test_unknown_test_class_is_rejected(tmp_path: Path) -> None:
    org = production(tmp_path)
    response = dispatch(
        org,
        "POST",
        f"{T}/runTestsAsynchronous",
        {"authorization": f"Bearer {org.access_token}"},
        json.dumps({"tests": [{"className": "NoSuchTest"}]}).encode(),
    )
    assert response.status == 400
    assert json.loads(response.body)[0]["errorCode"] == "INVALID_INPUT"
