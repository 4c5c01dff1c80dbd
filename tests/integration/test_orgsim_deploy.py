"""The real sf CLI deploying to orgsim: validation, quick deploy, report, cancel, failures, destructive changes.

Each test starts its own orgsim (durations well under a second) and logs the CLI in with an isolated HOME.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from orgsim.metadata import store as md
from orgsim.metadata.deploy import PENDING_JOBS_PROBLEM
from orgsim.testing import OrgsimServer, SfRun, login, run_sf

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sfdx_mini"
FAST = {"durations": {"deploy_seconds": 0.5, "validate_seconds": 0.5, "retrieve_seconds": 0.2}}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(FIXTURE, target)
    return target


def start_org(orgsim_factory: Any, sf_bin: Path, sf_home: Path, **scenario: Any) -> OrgsimServer:
    server = orgsim_factory({**FAST, **scenario}, name="deploy")
    login(sf_bin, sf_home, server.url, server.token, alias="sim")
    return server


def sf(sf_bin: Path, sf_home: Path, project: Path, *args: str) -> SfRun:
    return run_sf(sf_bin, [*args, "--target-org", "sim"], sf_home, cwd=project)


def classes_in(server: OrgsimServer) -> list[str]:
    return sorted(record["Name"] for record in server.org.store.list("ApexClass"))


def test_validate_quick_deploy_report_and_retrieve(
    orgsim_factory: Any, sf_bin: Path, sf_home: Path, project: Path
) -> None:
    server = start_org(orgsim_factory, sf_bin, sf_home)

    validation = sf(
        sf_bin,
        sf_home,
        project,
        "project",
        "deploy",
        "start",
        "--dry-run",
        "--test-level",
        "RunLocalTests",
        "--source-dir",
        "force-app",
    )
    assert validation.returncode == 0, validation
    result = validation.json["result"]
    assert (result["status"], result["checkOnly"], result["success"]) == ("Succeeded", True, True)
    assert result["numberTestsTotal"] == 3 and result["numberTestErrors"] == 0
    tests = result["details"]["runTestResult"]
    # The test class counts its @isTest and testMethod methods; the @isTest inside a string and comment do not.
    assert sorted(s["methodName"] for s in tests["successes"]) == ["countsGaps", "greetsByName", "greetsTeamWhenBlank"]
    coverage = {c["name"]: c for c in tests["codeCoverage"]}
    assert set(coverage) == {"ElaroGreeter", "ElaroNightlyJob"}
    assert coverage["ElaroGreeter"]["numLocations"] > 0
    assert classes_in(server) == []  # a validation changes nothing

    quick = sf(sf_bin, sf_home, project, "project", "deploy", "quick", "--job-id", result["id"])
    assert quick.returncode == 0, quick
    deployed = quick.json["result"]
    assert deployed["status"] == "Succeeded" and deployed["id"] != result["id"] and deployed["checkOnly"] is False
    assert classes_in(server) == ["ElaroGreeter", "ElaroGreeterTest", "ElaroNightlyJob"]
    assert server.org.schema.field("Compliance_Gap__c", "Severity__c") is not None
    assert [r["Name"] for r in server.org.store.list("PermissionSet")] == ["Elaro_Admin"]

    report = sf(sf_bin, sf_home, project, "project", "deploy", "report", "--job-id", deployed["id"])
    assert report.returncode == 0, report
    assert (report.json["result"]["id"], report.json["result"]["status"]) == (deployed["id"], "Succeeded")

    again = sf(sf_bin, sf_home, project, "project", "deploy", "quick", "--job-id", result["id"])
    assert again.returncode == 1 and again.json["name"] == "CannotQuickDeployError", again

    retrieved = sf(
        sf_bin, sf_home, project, "project", "retrieve", "start", "--metadata", "ApexClass", "--output-dir", "retrieved"
    )
    assert retrieved.returncode == 0 and retrieved.json["result"]["success"] is True, retrieved
    source = project / "force-app" / "main" / "default" / "classes"
    for original in sorted(source.iterdir()):
        copy = project / "retrieved" / "classes" / original.name
        assert copy.read_bytes() == original.read_bytes(), original.name


def test_validation_fails_on_a_component(orgsim_factory: Any, sf_bin: Path, sf_home: Path, project: Path) -> None:
    problem = "Variable does not exist: greeting"
    start_org(
        orgsim_factory,
        sf_bin,
        sf_home,
        faults={"component_failures": [{"name": "ElaroGreeter", "problem": problem, "line": 12, "column": 9}]},
    )
    run = sf(
        sf_bin,
        sf_home,
        project,
        "project",
        "deploy",
        "start",
        "--dry-run",
        "--test-level",
        "RunLocalTests",
        "--source-dir",
        "force-app",
    )
    assert run.returncode == 1, run
    result = run.json["result"]
    assert result["status"] == "Failed" and result["numberComponentErrors"] == 1
    failure = result["details"]["componentFailures"][0]
    assert (failure["fullName"], failure["problem"], failure["lineNumber"]) == ("ElaroGreeter", problem, 12)
    failed_files = [f for f in result["files"] if f["state"] == "Failed"]
    assert failed_files and failed_files[0]["error"] == f"{problem} (12:9)"  # the CLI appends (line:column)


def test_validation_fails_on_a_test(orgsim_factory: Any, sf_bin: Path, sf_home: Path, project: Path) -> None:
    message = "System.AssertException: Assertion Failed: Expected: Hello, Ada, Actual: Hello, Ada "
    start_org(
        orgsim_factory,
        sf_bin,
        sf_home,
        apex={"failing_tests": [{"test": "ElaroGreeterTest.greetsByName", "message": message}]},
    )
    run = sf(
        sf_bin,
        sf_home,
        project,
        "project",
        "deploy",
        "start",
        "--dry-run",
        "--test-level",
        "RunLocalTests",
        "--source-dir",
        "force-app",
    )
    assert run.returncode == 1, run
    result = run.json["result"]
    assert result["status"] == "Failed" and result["numberTestErrors"] == 1 and result["numberTestsTotal"] == 3
    failure = result["details"]["runTestResult"]["failures"][0]
    assert (failure["name"], failure["methodName"], failure["message"]) == ("ElaroGreeterTest", "greetsByName", message)
    assert failure["stackTrace"].startswith("Class.ElaroGreeterTest.greetsByName: line ")


def test_pending_scheduled_job_blocks_deploy_then_destructive_change_removes_class(
    orgsim_factory: Any, sf_bin: Path, sf_home: Path, project: Path
) -> None:
    server = start_org(orgsim_factory, sf_bin, sf_home)
    first = sf(
        sf_bin,
        sf_home,
        project,
        "project",
        "deploy",
        "start",
        "--test-level",
        "RunLocalTests",
        "--source-dir",
        "force-app",
    )
    assert first.returncode == 0 and first.json["result"]["status"] == "Succeeded", first
    assert {f["state"] for f in first.json["result"]["files"]} == {"Created"}

    server.org.schedule_job("Elaro Nightly Scan", "ElaroNightlyJob", "0 0 2 * * ?")
    blocked = sf(
        sf_bin,
        sf_home,
        project,
        "project",
        "deploy",
        "start",
        "--test-level",
        "RunLocalTests",
        "--source-dir",
        "force-app/main/default/classes/ElaroNightlyJob.cls",
    )
    assert blocked.returncode == 1, blocked
    failure = blocked.json["result"]["details"]["componentFailures"][0]
    assert (failure["fullName"], failure["problem"]) == ("ElaroNightlyJob", PENDING_JOBS_PROBLEM)

    assert server.org.abort_scheduled_jobs("Elaro") == ["Elaro Nightly Scan"]
    removal = sf(
        sf_bin,
        sf_home,
        project,
        "project",
        "deploy",
        "start",
        "--manifest",
        "manifest/package-empty.xml",
        "--post-destructive-changes",
        "manifest/destructiveChangesPost.xml",
        "--test-level",
        "RunLocalTests",
    )
    assert removal.returncode == 0, removal
    deleted = [m for m in removal.json["result"]["details"]["componentSuccesses"] if m["deleted"]]
    assert [(m["componentType"], m["fullName"]) for m in deleted] == [("ApexClass", "ElaroNightlyJob")]
    assert classes_in(server) == ["ElaroGreeter", "ElaroGreeterTest"]
    assert md.get_component(server.org, "ApexClass", "ElaroNightlyJob") is None


def test_report_and_cancel_a_deploy_stuck_in_the_queue(
    orgsim_factory: Any, sf_bin: Path, sf_home: Path, project: Path
) -> None:
    server = start_org(orgsim_factory, sf_bin, sf_home, faults={"deploy_stuck_in_queue": True})
    started = sf(
        sf_bin,
        sf_home,
        project,
        "project",
        "deploy",
        "start",
        "--async",
        "--test-level",
        "RunLocalTests",
        "--source-dir",
        "force-app",
    )
    assert started.returncode == 0, started
    job_id = started.json["result"]["id"]
    assert job_id.startswith("0Af") and len(job_id) == 18

    report = sf(sf_bin, sf_home, project, "project", "deploy", "report", "--job-id", job_id)
    assert report.returncode == 0, report
    assert (report.json["result"]["status"], report.json["result"]["done"]) == ("Pending", False)

    canceled = sf(sf_bin, sf_home, project, "project", "deploy", "cancel", "--job-id", job_id)
    assert canceled.returncode == 0, canceled
    assert canceled.json["result"]["status"] == "Canceled"
    assert classes_in(server) == []


def test_rest_metadata_deploy_validates_and_quick_deploys(
    orgsim_factory: Any, sf_bin: Path, sf_home: Path, project: Path
) -> None:
    server = start_org(orgsim_factory, sf_bin, sf_home)
    rest_env = {"SF_ORG_METADATA_REST_DEPLOY": "true"}
    validation = run_sf(
        sf_bin,
        [
            "project",
            "deploy",
            "start",
            "--dry-run",
            "--test-level",
            "RunLocalTests",
            "--source-dir",
            "force-app",
            "--target-org",
            "sim",
        ],
        sf_home,
        cwd=project,
        env=rest_env,
    )
    assert validation.returncode == 0, validation
    assert validation.json["result"]["numberTestsTotal"] == 3
    assert server.org.call_counts().get("deployRequest", 0) >= 1  # it really went through the REST endpoint
    quick = run_sf(
        sf_bin,
        ["project", "deploy", "quick", "--job-id", validation.json["result"]["id"], "--target-org", "sim"],
        sf_home,
        cwd=project,
        env=rest_env,
    )
    assert quick.returncode == 0 and quick.json["result"]["status"] == "Succeeded", quick
    assert classes_in(server) == ["ElaroGreeter", "ElaroGreeterTest", "ElaroNightlyJob"]
