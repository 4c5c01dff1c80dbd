"""Impossible numbers in sf output are malformed, never printed or guessed at (issue 11, "types mean what they say").

`numberComponentsTotal: 1e400` used to read as 0, `-5` was printed, `3.5` became 3 and `true` became 1. The parsers
now raise SfMalformedOutput (a Failure, exit 1) naming the field; `SfCli` adds the command line, so a step that
asked fails with a clear message; `cutover explain` turns it into exit 2.
"""

from __future__ import annotations

import json

import pytest

from cutover.errors import ExitCode
from cutover.sf import SfMalformedOutput
from cutover.sf.coerce import as_count, as_exit_status
from cutover.sf.process import JsonTooDeep, decode_json_document, json_depth_exceeds, parse_json_stdout
from cutover.sf.results import parse_deploy_result, parse_limits, parse_query_result, parse_test_run

BAD_COUNTS = [float("inf"), float("-inf"), float("nan"), -1, -5.0, "-2", 3.5, "3.5", True, False, "many", [1], {}]


@pytest.mark.parametrize("value", BAD_COUNTS, ids=repr)
def test_a_count_that_cannot_be_true_is_malformed(value):
    with pytest.raises(SfMalformedOutput, match=r"numberComponentsTotal is .*not a whole number >= 0"):
        as_count(value, "numberComponentsTotal")


@pytest.mark.parametrize(("value", "expected"), [(3, 3), ("3", 3), (3.0, 3), (" 3.0 ", 3), (0, 0), (None, 7), ("", 7)])
def test_readable_counts_still_read(value, expected):
    assert as_count(value, "n", 7) == expected


@pytest.mark.parametrize("value", [3.5, "3.5", True, -1, 256, float("inf"), "x"], ids=repr)
def test_exit_status_must_be_a_whole_number_0_255(value):
    with pytest.raises(SfMalformedOutput, match=r"status is .*not an exit status"):
        as_exit_status(value)


def test_exit_status_absent_and_valid():
    assert as_exit_status(None) is None
    assert as_exit_status(68) == 68 and as_exit_status("1") == 1


def test_infinite_total_from_json_is_malformed_not_zero():
    doc = json.loads('{"id": "0Af1", "status": "Succeeded", "numberComponentsTotal": 1e400}')
    with pytest.raises(SfMalformedOutput, match="numberComponentsTotal is Infinity"):
        parse_deploy_result(doc)


@pytest.mark.parametrize(
    ("parser", "doc", "field"),
    [
        (parse_deploy_result, {"numberComponentsDeployed": -5}, "numberComponentsDeployed"),
        (parse_deploy_result, {"numberComponentErrors": True}, "numberComponentErrors"),
        (parse_deploy_result, {"details": {"runTestResult": {"numTestsRun": 2.5}}}, "numTestsRun"),
        (
            parse_deploy_result,
            {"details": {"runTestResult": {"codeCoverage": [{"name": "A", "numLocations": -3}]}}},
            "numLocations",
        ),
        (parse_test_run, {"summary": {"testsRan": 1e300 * 1e300}}, "testsRan"),
        (parse_test_run, {"summary": {"failing": "lots"}}, "failing"),
        (parse_query_result, {"records": [], "totalSize": -1}, "totalSize"),
        (parse_limits, [{"name": "DailyApiRequests", "max": 1.5, "remaining": 1}], "max"),
    ],
)
def test_parsers_flag_the_field(parser, doc, field):
    with pytest.raises(SfMalformedOutput, match=field):
        parser(doc)


def test_malformed_output_is_a_failure_not_a_bug():
    assert SfMalformedOutput("x").exit_code == ExitCode.FAILED


def test_a_deploy_step_gets_a_clear_failure_not_exit_3(fake_sf):
    """Through the real process layer: sf answers a deploy with status 0 and a count of 1e400."""
    fake_sf.plan(
        {
            "stdout": '{"status": 0, "result": {"id": "0Af000000000001AAA", "status": "Succeeded", "done": true,'
            ' "success": true, "numberComponentsTotal": 1e400}}',
            "exit": 0,
        }
    )
    with pytest.raises(SfMalformedOutput) as caught:
        fake_sf.cli().deploy_report("prod", "0Af000000000001AAA")
    assert "sf project deploy report" in caught.value.message
    assert "numberComponentsTotal is Infinity" in caught.value.message
    assert caught.value.exit_code == ExitCode.FAILED


def test_deep_json_is_refused_without_recursion():
    deep = "[" * 1000 + "]" * 1000
    with pytest.raises(JsonTooDeep, match="64 levels"):
        decode_json_document(deep)
    assert parse_json_stdout(deep) is None  # the runner sees "no JSON document"
    nested: list = []
    for _ in range(5000):  # deeper than Python's recursion limit, built without the parser
        nested = [nested]
    assert json_depth_exceeds(nested, 64)
    assert not json_depth_exceeds({"a": [{"b": 1}]}, 3)
    assert json_depth_exceeds({"a": [{"b": [1]}]}, 3)


def test_broken_document_with_many_candidate_lines_is_not_reparsed_per_line():
    import time

    text = "\n".join(["{" + '"a": 1,' * 2000] * 3000)  # 3,000 lines starting with "{", none a document
    started = time.monotonic()
    assert decode_json_document(text) is None
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("value", ["150%", 100.5, -3, "-0.5 %", True, float("inf")], ids=repr)
def test_an_impossible_coverage_is_malformed_not_a_passing_gate(value):
    with pytest.raises(SfMalformedOutput, match=r"orgWideCoverage is .*not a percentage \(0-100\)"):
        parse_test_run({"summary": {"outcome": "Passed", "orgWideCoverage": value}})


def test_readable_percentages_and_unreadable_text():
    run = parse_test_run({"summary": {"orgWideCoverage": "87%", "testRunCoverage": "N/A", "passRate": 100}})
    assert run.org_wide_coverage_pct == 87.0 and run.test_run_coverage_pct is None and run.pass_rate == 100.0


@pytest.mark.parametrize(("value", "expected"), [(True, None), (3.5, None), (float("inf"), None), ("12", 12), (7, 7)])
def test_optional_line_numbers_are_whole_numbers_or_none(value, expected):
    parsed = parse_deploy_result(
        {"details": {"componentFailures": [{"componentType": "ApexClass", "lineNumber": value}]}}
    )
    assert parsed.failures[0].line == expected
