"""`sf apex run test --code-coverage` and `sf apex get test` against orgsim's simulated test runs.

(Helper B's `test_orgsim_apex_tests*.py` cover deploy-time tests; these cover the Tooling test-run API.)
"""

from __future__ import annotations

from pathlib import Path

from orgsim.scenario import builtin_scenario_path
from orgsim.testing import OrgsimServer, login, run_sf


def _scenario_with(**overrides: object) -> dict:
    import yaml

    data = yaml.safe_load(builtin_scenario_path("production").read_text())
    data["metadata"]["seed_dir"] = str(builtin_scenario_path("production").parent / data["metadata"]["seed_dir"])
    data.update(overrides)
    return data


def test_run_local_tests_with_per_class_coverage(orgsim_factory, sf_bin: Path, sf_home: Path) -> None:
    server: OrgsimServer = orgsim_factory(
        _scenario_with(apex={"default_coverage": 92, "coverage": {"ElaroLogger": 60, "ElaroAuditTrailPoller": 80}})
    )
    login(sf_bin, sf_home, server.url, server.token, alias="production")
    args = [
        "apex",
        "run",
        "test",
        "--test-level",
        "RunLocalTests",
        "--code-coverage",
        "--wait",
        "1",
        "--target-org",
        "production",
    ]
    run = run_sf(sf_bin, args, sf_home)
    assert run.returncode == 0, run
    result = run.json["result"]
    summary = result["summary"]
    assert summary["outcome"] == "Passed"
    assert summary["testsRan"] == summary["passing"] >= 5 and summary["failing"] == 0
    assert summary["testRunId"].startswith("707")
    coverage = {entry["name"]: entry for entry in result["coverage"]["coverage"]}
    assert abs(coverage["ElaroLogger"]["coveredPercent"] - 60) <= 10
    assert abs(coverage["ElaroAuditTrailPoller"]["coveredPercent"] - 80) <= 10
    assert abs(coverage["ElaroSecurityUtils"]["coveredPercent"] - 92) <= 10
    assert not any(name.endswith("Test") for name in coverage)
    org_wide = int(summary["orgWideCoverage"].rstrip("%"))
    assert 60 < org_wide < 92
    assert {test["Outcome"] for test in result["tests"]} == {"Pass"}
    assert "ElaroSchedulersTest" in {test["ApexClass"]["Name"] for test in result["tests"]}

    # `apex get test` goes through the CometD handshake before reading the finished run.
    get = run_sf(
        sf_bin,
        ["apex", "get", "test", "--test-run-id", summary["testRunId"], "--target-org", "production"],
        sf_home,
        timeout=120,
    )
    assert get.returncode == 0, get
    assert get.json["result"]["summary"]["testsRan"] == summary["testsRan"]
    assert server.org.call_counts().get("cometd", 0) >= 1


FAILING = {
    "failing_tests": [
        {
            "test": "ElaroLoggerTest.writesAnAuditEntry",
            "message": "System.AssertException: Assertion Failed: audit row missing",
        }
    ]
}
RUN_LOGGER_TESTS = [
    "apex",
    "run",
    "test",
    "--class-names",
    "ElaroLoggerTest",
    "--wait",
    "1",
    "--target-org",
    "production",
]


def test_failing_test_exits_100(orgsim_factory, sf_bin: Path, sf_home: Path) -> None:
    server: OrgsimServer = orgsim_factory(_scenario_with(apex=FAILING))
    login(sf_bin, sf_home, server.url, server.token, alias="production")
    run = run_sf(sf_bin, RUN_LOGGER_TESTS, sf_home)
    assert run.returncode == 100, run
    summary = run.json["result"]["summary"]
    assert summary["outcome"] == "Failed" and summary["failing"] == 1
    failed = [t for t in run.json["result"]["tests"] if t["Outcome"] == "Fail"]
    assert failed[0]["FullName"] == "ElaroLoggerTest.writesAnAuditEntry"
    assert failed[0]["Message"] == "System.AssertException: Assertion Failed: audit row missing"
    assert failed[0]["StackTrace"].startswith("Class.ElaroLoggerTest.writesAnAuditEntry: line ")
    assert "coverage" not in run.json["result"]


def test_dropped_connection_mid_poll_then_recover_with_get_test(orgsim_factory, sf_bin: Path, sf_home: Path) -> None:
    # Call 1 of tooling.query is the login's; call 2 is the CLI's first poll of the run.
    server: OrgsimServer = orgsim_factory(
        _scenario_with(apex=FAILING, faults={"drop_connection": [{"operation": "tooling.query", "on_call": 2}]})
    )
    login(sf_bin, sf_home, server.url, server.token, alias="production")
    run = run_sf(sf_bin, RUN_LOGGER_TESTS, sf_home)
    # Measured: the CLI does not retry a connection closed mid-poll; it fails with a TypeError (exit 10).
    assert run.returncode == 10, run
    assert run.json["name"] == "TypeError" and run.json["message"] == "fetch failed"
    # The run itself went on in the org; whoever recorded its id can still collect the results.
    run_ids = [job["Id"] for job in server.org.store.find("AsyncApexJob", JobType="TestRequest")]
    assert len(run_ids) == 1
    get = run_sf(sf_bin, ["apex", "get", "test", "--test-run-id", run_ids[0], "--target-org", "production"], sf_home)
    assert get.returncode == 100, get
    assert get.json["result"]["summary"]["failing"] == 1


def test_get_test_waits_for_a_running_test_through_streaming(orgsim_factory, sf_bin: Path, sf_home: Path) -> None:
    scenario = _scenario_with()
    scenario["durations"] = {"test_seconds": 6}
    server: OrgsimServer = orgsim_factory(scenario)
    login(sf_bin, sf_home, server.url, server.token, alias="production")
    started = run_sf(
        sf_bin, ["apex", "run", "test", "--class-names", "ElaroLoggerTest", "--target-org", "production"], sf_home
    )
    assert started.returncode == 0, started
    run_id = started.json["result"]["testRunId"]
    assert "summary" not in started.json["result"]  # no --wait: the command returns while the run is queued
    # The run is still in progress: the CLI subscribes to /systemTopic/TestResult and orgsim announces completion
    # (without that event the CLI would only look again after 60 s).
    get = run_sf(
        sf_bin, ["apex", "get", "test", "--test-run-id", run_id, "--target-org", "production"], sf_home, timeout=50
    )
    assert get.returncode == 0, get
    assert get.json["result"]["summary"]["outcome"] == "Passed"
    assert server.org.call_counts()["cometd"] >= 3  # handshake, subscribe, connect(s)
