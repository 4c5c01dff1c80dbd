"""`cutover explain FILE`: kinds, the JSON summary shape, coverage maths, text output, and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cutover.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sf"
TOKEN = "00D5g000004ElaRAAS!AQ4AQFakeTokenValue.ForTests_123"


def explain_json(capsys, path) -> dict:
    code = main(["explain", str(path), "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def test_successful_validation_summary(capsys):
    summary = explain_json(capsys, FIXTURES / "validate_success_runlocaltests.json")
    assert summary["kind"] == "validate"
    assert summary["status"] == "Succeeded"
    assert summary["components"] == {"total": 4, "deployed": 4, "failed": 0, "failures": []}
    assert summary["tests"] == {"run": 3, "failed": 0, "failures": []}
    coverage = summary["coverage"]
    # 100·(20 + 34 + 0)/(20 + 40 + 0): the fully covered class counts, the 0-line class counts 100% alone.
    assert coverage["org_wide_pct"] == 90.0
    assert {c["name"]: c["pct"] for c in coverage["classes"]} == {
        "ComplianceDashboardController": 85.0,
        "ElaroConstants": 100.0,
        "ElaroLogger": 100.0,
    }
    assert coverage["classes"][0]["name"] == "ComplianceDashboardController"  # least covered first


def test_failed_deploy_is_explained_with_exit_0(capsys):
    summary = explain_json(capsys, FIXTURES / "deploy_failed_components.json")
    assert summary["kind"] == "deploy" and summary["status"] == "Failed"
    assert summary["exit_code"] == 1
    components = summary["components"]
    assert components["total"] == 3 and components["failed"] == 2
    assert components["failures"][0] == {
        "type": "ApexClass",
        "name": "ComplianceDashboardController",
        "file": "classes/ComplianceDashboardController.cls",
        "problem": "Unexpected token '}'.",
        "line": 57,
        "column": 5,
    }
    assert "tests" not in summary  # no tests ran in this deploy
    assert "coverage" not in summary


def test_failed_dry_run_with_legacy_types(capsys):
    summary = explain_json(capsys, FIXTURES / "deploy_dryrun_failed_tests_legacy.json")
    assert summary["kind"] == "validate" and summary["status"] == "Failed"
    assert summary["tests"]["run"] == 3 and summary["tests"]["failed"] == 1
    assert summary["tests"]["failures"][0]["name"] == "ElaroSecurityUtilsTest.deniesRestrictedUser"
    assert summary["coverage"]["org_wide_pct"] == pytest.approx(round(100 * 40 / 54, 2))
    assert summary["coverage"]["warnings"][0].startswith("Average test coverage")


def test_failed_validation_envelope(capsys):
    summary = explain_json(capsys, FIXTURES / "validate_failed_envelope.json")
    assert summary["kind"] == "validate"
    assert summary["status"] == "Error"
    assert summary["id"] == "0Af5g00000ElaVAL4"
    assert summary["error"]["name"] == "FailedValidationError"
    assert "ElaroLoggerTest.logsErrors" in summary["error"]["message"]
    assert "components" not in summary and "tests" not in summary
    assert "sf project deploy report --job-id 0Af5g00000ElaVAL4" in summary["hint"]


def test_missing_org_and_timeout_envelopes(capsys):
    missing = explain_json(capsys, FIXTURES / "org_not_found.json")
    assert missing["kind"] == "org-display" and missing["error"]["exit_code"] == 2
    timeout = explain_json(capsys, FIXTURES / "deploy_timeout_client.json")
    assert timeout["kind"] == "deploy" and timeout["id"] == "0Af5g00000ElaTMO5"
    assert timeout["error"]["name"] == "ClientTimeoutError"


def test_apex_test_run(capsys):
    summary = explain_json(capsys, FIXTURES / "apex_test_failed.json")
    assert summary["kind"] == "apex-test" and summary["status"] == "Failed"
    assert summary["exit_code"] == 100
    assert summary["tests"]["run"] == 3 and summary["tests"]["failed"] == 1
    assert summary["tests"]["failures"][0]["name"] == "ElaroLoggerTest.logsErrors"
    assert summary["coverage"]["org_wide_pct"] == 81.0  # the org's own figure (ApexOrgWideCoverage)
    assert summary["coverage"]["test_run_pct"] == 84.0
    assert {c["name"]: c["pct"] for c in summary["coverage"]["classes"]} == {
        "ComplianceDashboardController": 82.5,
        "ElaroLogger": 85.0,
    }
    assert "components" not in summary


def test_retrieve_query_limits(capsys):
    retrieve = explain_json(capsys, FIXTURES / "retrieve_failed.json")
    assert retrieve["kind"] == "retrieve" and retrieve["status"] == "Failed"
    assert retrieve["components"]["failures"][0]["name"] == "ElaroRemoved"
    ok = explain_json(capsys, FIXTURES / "retrieve_success.json")
    assert ok["components"] == {"total": 1, "retrieved": 1, "failed": 0, "failures": []}
    query = explain_json(capsys, FIXTURES / "data_query_cron.json")
    assert query["kind"] == "query" and query["total_size"] == 2
    assert query["records"][0]["CronJobDetail.Name"] == "Elaro Nightly Compliance Scan"
    limits = explain_json(capsys, FIXTURES / "org_list_limits.json")
    assert limits["kind"] == "limits"
    assert limits["limits"][0] == {"name": "DataStorageMB", "max": 5, "remaining": 1, "used": 4, "used_pct": 80.0}


def test_bare_result_without_envelope(tmp_path, capsys):
    doc = json.loads((FIXTURES / "validate_success_runlocaltests.json").read_text())["result"]
    path = tmp_path / "result.json"
    path.write_text(json.dumps(doc))
    summary = explain_json(capsys, path)
    assert summary["coverage"]["org_wide_pct"] == 90.0
    assert "exit_code" not in summary


def test_text_summary(capsys):
    assert main(["explain", str(FIXTURES / "deploy_dryrun_failed_tests_legacy.json")]) == 0
    out = capsys.readouterr().out
    assert "validate 0Af5g00000ElaDRY3 Failed" in out
    assert "ElaroSecurityUtilsTest.deniesRestrictedUser" in out
    assert "Coverage: 74.07% overall" in out
    assert "ElaroLegacyAdapter" in out


def test_text_limits(capsys):
    assert main(["explain", str(FIXTURES / "org_list_limits.json")]) == 0
    out = capsys.readouterr().out
    assert "DailyApiRequests" in out and "5.27%" in out


def test_relative_path_is_read_from_the_project_folder(tmp_path, capsys):
    (tmp_path / "out.json").write_text((FIXTURES / "apex_test_passed_coverage.json").read_text())
    assert main(["-C", str(tmp_path), "explain", "out.json", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["coverage"]["org_wide_pct"] == 87.0


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("Deploying... done\nnot json at all", "not a JSON document"),
        ("", "not a JSON document"),
        ('{"hello": "world"}', "unrecognised sf result"),
        ("[1, 2, 3]", "not an 'org list limits' result"),
    ],
)
def test_unexplainable_files_exit_2_with_one_line(tmp_path, capsys, content, expected):
    path = tmp_path / "saved.json"
    path.write_text(content)
    assert main(["explain", str(path)]) == 2
    err = capsys.readouterr().err
    first = err.splitlines()[0]
    assert first.startswith("cutover: error: ") and str(path) in first and expected in first


def test_missing_file_and_bad_format(tmp_path, capsys):
    assert main(["explain", str(tmp_path / "nope.json")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["explain", str(FIXTURES / "org_display.json"), "--format", "yaml"]) == 2
    assert "--format yaml" in capsys.readouterr().err


def test_leading_warning_lines_are_skipped(tmp_path, capsys):
    path = tmp_path / "deploy.log"
    saved = (FIXTURES / "deploy_quick_success.json").read_text()
    path.write_text(" › Warning: @salesforce/cli update available\n" + saved)
    assert explain_json(capsys, path)["status"] == "Succeeded"


def test_tokens_are_redacted_in_the_summary(tmp_path, capsys):
    doc = {
        "name": "INVALID_SESSION_ID",
        "message": f"Session expired or invalid: {TOKEN}",
        "exitCode": 1,
        "commandName": "DataSoqlQueryCommand",
        "status": 1,
    }
    path = tmp_path / "err.json"
    path.write_text(json.dumps(doc))
    assert main(["explain", str(path), "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert TOKEN not in out
    assert json.loads(out)["kind"] == "query"


def test_explain_reads_the_evidence_record_cutover_keeps_of_an_sf_call(tmp_path: Path, capsys) -> None:
    """`cutover explain .cutover/runs/<run>/evidence/<step>/<call>.json` works: the record wraps the envelope."""
    envelope = json.loads((FIXTURES / "validate_success_runlocaltests.json").read_text())
    record = {
        "argv": ["sf", "project", "deploy", "start", "--dry-run", "--test-level", "RunLocalTests", "--json"],
        "exit_code": 0,
        "duration_s": 3.2,
        "timed_out": False,
        "stderr": "",
        "envelope": envelope,
    }
    path = tmp_path / "validation-result.json"
    path.write_text(json.dumps(record))
    assert main(["explain", str(path), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    direct = path.with_name("direct.json")
    direct.write_text(json.dumps(envelope))
    assert main(["explain", str(direct), "--format", "json"]) == 0
    assert summary == json.loads(capsys.readouterr().out)
    assert summary["kind"] == "validate"
