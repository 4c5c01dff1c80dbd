"""Parsers of `sf --json` results against recorded shapes, including legacy string-typed / lone-object variants."""

from __future__ import annotations

import pytest

from cutover.sf.coerce import as_bool, as_int, as_list, as_opt_int, parse_duration_ms, parse_percent
from cutover.sf.results import (
    ClassCoverage,
    coverage_pct,
    parse_code_coverage,
    parse_deploy_result,
    parse_limits,
    parse_org_info,
    parse_org_list,
    parse_query_result,
    parse_retrieve_result,
    parse_test_run,
)


# ------------------------------------------------------------------------------------------------------ coercion
@pytest.mark.parametrize(
    ("raw", "expected"),
    [(3, 3), ("3", 3), ("3.0", 3), (3.9, 3), (True, 1), (None, 0), ("", 0), ("testTime", 0), (float("nan"), 0)],
)
def test_as_int_reads_numbers_and_numeric_strings(raw, expected):
    assert as_int(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(True, True), ("true", True), ("TRUE", True), (1, True), (False, False), ("false", False), (0, False)],
)
def test_as_bool_reads_xml_style_strings(raw, expected):
    assert as_bool(raw) is expected


def test_as_bool_default_for_unreadable():
    assert as_bool("maybe", default=True) is True
    assert as_bool(None) is False


def test_as_list_wraps_lone_objects_and_drops_absent():
    assert as_list({"a": 1}) == [{"a": 1}]
    assert as_list(None) == []
    assert as_list("") == []
    assert as_list([1, 2]) == [1, 2]


def test_percent_and_duration_strings():
    assert parse_percent("87%") == 87.0
    assert parse_percent("87.5 %") == 87.5
    assert parse_percent(90) == 90.0
    assert parse_percent("n/a") is None
    assert parse_percent(None) is None
    assert parse_duration_ms("53 ms") == 53
    assert as_opt_int("x") is None


# ------------------------------------------------------------------------------------------------------ coverage
def test_coverage_formula_counts_fully_covered_classes():
    # sfdx-hardis only adds covered lines when numLocationsNotCovered > 0; the fully covered class must count.
    classes = [ClassCoverage("Full", 20, 0), ClassCoverage("Partial", 40, 6)]
    assert coverage_pct(classes) == pytest.approx(100 * (20 + 34) / 60)
    assert coverage_pct(classes) != pytest.approx(100 * 34 / 60)


def test_class_without_locations_counts_100_and_does_not_move_the_total():
    empty = ClassCoverage("Constants", 0, 0)
    assert empty.pct == 100.0
    assert coverage_pct([empty, ClassCoverage("Half", 10, 5)]) == pytest.approx(50.0)
    assert coverage_pct([empty]) == 100.0
    assert coverage_pct([]) is None


def test_more_uncovered_than_locations_clamps_to_zero():
    bad = parse_code_coverage({"name": "Weird", "numLocations": "4", "numLocationsNotCovered": "9"})
    assert bad[0].covered == 0
    assert bad[0].pct == 0.0


# -------------------------------------------------------------------------------------------------------- deploy
def test_successful_validation_with_runlocaltests_and_coverage(sf_doc):
    result = parse_deploy_result(sf_doc("validate_success_runlocaltests.json")["result"])
    assert result.id == "0Af5g00000ElaVAL1"
    assert result.check_only is True
    assert result.succeeded and not result.failed and result.finished
    assert (result.components_total, result.components_deployed, result.component_errors) == (4, 4, 0)
    assert len(result.component_successes) == 5  # includes the package.xml row
    assert result.tests is not None
    assert result.tests.num_run == 3 and result.tests.num_failures == 0
    assert {c.name: round(c.pct, 2) for c in result.coverage} == {
        "ElaroLogger": 100.0,
        "ComplianceDashboardController": 85.0,
        "ElaroConstants": 100.0,
    }
    assert result.coverage_pct == pytest.approx(90.0)
    assert result.files[1].state == "Created"
    assert result.deploy_url and "0Af5g00000ElaVAL1" in result.deploy_url


def test_failed_deploy_component_failures(sf_doc):
    result = parse_deploy_result(sf_doc("deploy_failed_components.json")["result"])
    assert result.failed and not result.succeeded
    assert result.status == "Failed"
    assert [(f.type, f.name, f.line, f.column) for f in result.failures] == [
        ("ApexClass", "ComplianceDashboardController", 57, 5),
        ("LightningComponentBundle", "complianceDashboard", None, None),
    ]
    assert result.failures[0].problem == "Unexpected token '}'."
    assert result.failures[0].file == "classes/ComplianceDashboardController.cls"
    assert result.coverage_pct is None  # no tests ran: no coverage figure, not 0 or 100


def test_failures_fall_back_to_failed_files_when_details_are_cut(sf_doc):
    doc = sf_doc("deploy_failed_components.json")["result"]
    doc["details"] = {"componentFailures": [], "runTestResult": doc["details"]["runTestResult"]}
    result = parse_deploy_result(doc)
    assert [f.name for f in result.failures] == ["ComplianceDashboardController", "complianceDashboard"]
    assert result.failures[0].problem == "Unexpected token '}'. (57:5)"


def test_legacy_string_typed_failed_dry_run_with_tests(sf_doc):
    result = parse_deploy_result(sf_doc("deploy_dryrun_failed_tests_legacy.json")["result"])
    assert result.check_only is True and result.done is True and result.success is False
    assert result.failed
    assert result.components_deployed == 2
    assert len(result.component_successes) == 1  # a lone object, not a list
    assert result.component_successes[0].changed is True
    tests = result.tests
    assert tests is not None
    assert tests.num_run == 3 and tests.num_failures == 1
    assert tests.total_time_ms == 1533
    (failure,) = tests.failures
    assert failure.full_name == "ElaroSecurityUtilsTest.deniesRestrictedUser"
    assert failure.message.startswith("System.AssertException")
    assert failure.stack_trace.endswith("line 42, column 1")
    assert failure.time_ms is None  # "n/a" is not a number
    assert tests.coverage_warnings[0].startswith("Average test coverage across all Apex Classes")
    # 40 of 50 covered + 0 of 4 (clamped) -> 40/54
    assert result.coverage_pct == pytest.approx(100 * 40 / 54)


def test_in_progress_and_async_queued(sf_doc):
    running = parse_deploy_result(sf_doc("deploy_inprogress_exit69.json")["result"])
    assert not running.finished and not running.failed
    assert running.state_detail == "Processing Type: ApexClass"
    assert running.tests is None
    queued = parse_deploy_result(sf_doc("deploy_async_queued.json")["result"])
    assert queued.status == "Queued" and queued.id == "0Af5g00000ElaASY7" and not queued.finished


def test_rest_deploy_request_body_is_unwrapped():
    body = {"id": "0Af000000000001AAA", "deployResult": {"status": "Succeeded", "success": True, "done": True}}
    result = parse_deploy_result(body)
    assert result.id == "0Af000000000001AAA" and result.succeeded


def test_garbage_never_raises():
    for junk in (None, "text", [], {"details": "oops", "files": "x"}, {"details": {"runTestResult": []}}):
        result = parse_deploy_result(junk)
        assert result.id == ""


# ------------------------------------------------------------------------------------------------------ retrieve
def test_retrieve_success(sf_doc):
    result = parse_retrieve_result(sf_doc("retrieve_success.json")["result"])
    assert result.id == "09S5g00000ElaRET9" and result.success and not result.failed
    assert [p.type for p in result.file_properties] == ["ApexClass", "Package"]
    assert result.file_properties[0].last_modified_by == "Release Manager"
    assert len(result.files) == 2


def test_retrieve_failed_with_exit_zero(sf_doc):
    result = parse_retrieve_result(sf_doc("retrieve_failed.json")["result"])
    assert result.failed
    assert result.failed_files[0].full_name == "ElaroRemoved"
    assert result.messages[0].problem.startswith("Entity of type 'ApexClass'")  # a lone object became a list


# ---------------------------------------------------------------------------------------------------- apex tests
def test_apex_test_run_failed(sf_doc):
    run = parse_test_run(sf_doc("apex_test_failed.json")["result"])
    assert run.completed and run.failed
    assert run.test_run_id == "7075g00000RunAAA"
    assert (run.tests_ran, run.passing, run.failing, run.skipped) == (3, 2, 1, 0)
    assert run.org_wide_coverage_pct == 81.0
    assert run.test_run_coverage_pct == 84.0
    assert run.execution_time_ms == 905
    (failure,) = run.failures
    assert failure.full_name == "ElaroLoggerTest.logsErrors"
    assert "Expected: 1, Actual: 0" in failure.message
    assert {c.name: c.pct for c in run.class_coverage} == {
        "ElaroLogger": pytest.approx(85.0),
        "ComplianceDashboardController": pytest.approx(82.5),
    }


def test_apex_test_run_passed_with_coverage(sf_doc):
    run = parse_test_run(sf_doc("apex_test_passed_coverage.json")["result"])
    assert run.completed and not run.failed
    assert run.outcome == "Passed"
    assert run.org_wide_coverage_pct == 87.0
    assert coverage_pct(run.class_coverage) == pytest.approx(90.0)


def test_apex_wait_expired_gives_only_an_id(sf_doc):
    run = parse_test_run(sf_doc("apex_test_wait_expired.json")["result"])
    assert not run.completed
    assert run.test_run_id == "7075g00000RunAAA"


def test_apex_lowercase_result_variant():
    # apex-node's TestResult (as `apex get test` renders some versions) uses camelCase keys.
    doc = {
        "summary": {"outcome": "Failed", "testsRan": 2, "passing": 1, "failing": 1, "testExecutionTimeInMs": 53},
        "tests": [
            {
                "methodName": "testConfig",
                "outcome": "Fail",
                "stackTrace": "Error running test",
                "message": None,
                "apexClass": {"name": "MyApexTests", "fullName": "MyApexTests"},
                "runTime": 53,
            }
        ],
    }
    run = parse_test_run(doc)
    assert run.failures[0].full_name == "MyApexTests.testConfig"
    assert run.failures[0].stack_trace == "Error running test"
    assert run.execution_time_ms == 53
    assert run.org_wide_coverage_pct is None


# ---------------------------------------------------------------------------------------------- query, org, limits
def test_query_records_and_rows(sf_doc):
    result = parse_query_result(sf_doc("data_query_cron.json")["result"])
    assert result.total_size == 2 and result.done
    rows = result.rows()
    assert rows[0]["CronJobDetail"] == {"Name": "Elaro Nightly Compliance Scan"}
    assert "attributes" not in rows[0]
    assert result.records[0]["attributes"]["type"] == "CronTrigger"  # the raw records keep it


def test_org_display_normalises_url_and_never_keeps_a_token(sf_doc):
    info = parse_org_info(sf_doc("org_display.json")["result"])
    assert info.instance_url == "https://elaro.my.salesforce.com"
    assert info.org_id == "00D5g000004ElaRAAS"
    assert info.username == "release@elaro.example"
    assert info.api_version == "62.0" and info.alias == "production" and info.connected
    assert "accessToken" not in repr(info) and "REDACTED" not in repr(info)


def test_org_list_deduplicates_groups():
    row = {"username": "a@x.com", "orgId": "00D000000000001AAA", "instanceUrl": "http://127.0.0.1:1/", "alias": "p"}
    orgs = parse_org_list({"other": [row], "nonScratchOrgs": [row], "sandboxes": [], "scratchOrgs": []})
    assert len(orgs) == 1
    assert orgs[0].org_id == "00D000000000001AAA" and orgs[0].instance_url == "http://127.0.0.1:1"


def test_limits_array_with_string_numbers(sf_doc):
    limits = {lim.name: lim for lim in parse_limits(sf_doc("org_list_limits.json")["result"])}
    api = limits["DailyApiRequests"]
    assert (api.max, api.remaining, api.used) == (15000, 14210, 790)
    assert api.used_pct == pytest.approx(100 * 790 / 15000)
    assert limits["DataStorageMB"].used_pct == pytest.approx(80.0)
    assert limits["HourlyTimeBasedWorkflow"].max == 50
    assert limits["PermissionSets"].used_pct == 0.0  # max 0 must not divide by zero


def test_limits_raw_rest_shape():
    limits = parse_limits({"DailyApiRequests": {"Max": 15000, "Remaining": 14998}, "Other": "skip"})
    assert [(lim.name, lim.used) for lim in limits] == [("DailyApiRequests", 2)]


def test_json_document_is_found_among_other_output():
    from cutover.sf.process import parse_json_stdout

    assert parse_json_stdout('{"status": 0}') == {"status": 0}
    assert parse_json_stdout(' › Warning: update\n{\n  "status": 0\n}\n') == {"status": 0}
    assert parse_json_stdout('{"status": 1}\n(node:12) Warning: something\n') == {"status": 1}
    assert parse_json_stdout("[1, 2]") == [1, 2]
    assert parse_json_stdout('{"status": 0, "result": {"cut') is None
    assert parse_json_stdout("no json\n{ not json either") is None
