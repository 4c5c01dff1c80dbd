"""Acceptance (issue 2): `cutover explain` reads what the *real* sf CLI saved, not only hand-made fixtures.

One orgsim, the real CLI from .tools/: validate (dry run, RunLocalTests), quick deploy, report, retrieve, apex run
test with coverage, data query, org list limits. Each saved `--json` document goes through `cutover explain
--format json`; coverage is recomputed here from the CLI's own numbers (numLocations / numLocationsNotCovered).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from cutover.cli import main
from orgsim.testing import login, run_sf

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sfdx_mini"
SCENARIO = {
    "durations": {"deploy_seconds": 0.5, "validate_seconds": 0.5, "retrieve_seconds": 0.2, "test_seconds": 0.5},
    "apex": {"coverage": {"ElaroGreeter": 70}},
}


def _explain(capsys: pytest.CaptureFixture[str], saved: Path, stdout: str) -> dict[str, Any]:
    saved.write_text(stdout)
    code = main(["explain", str(saved), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def _expected_coverage(code_coverage: list[dict[str, Any]]) -> tuple[float, dict[str, float]]:
    total = sum(int(c["numLocations"]) for c in code_coverage)
    uncovered = sum(int(c["numLocationsNotCovered"]) for c in code_coverage)
    per_class = {
        c["name"]: round(100 * (int(c["numLocations"]) - int(c["numLocationsNotCovered"])) / int(c["numLocations"]), 2)
        for c in code_coverage
        if int(c["numLocations"])
    }
    return round(100 * (total - uncovered) / total, 2), per_class


def test_explain_every_kind_from_real_sf_output(
    orgsim_factory: Any, sf_bin: Path, sf_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "project"
    shutil.copytree(FIXTURE, project)
    server = orgsim_factory(SCENARIO, name="explain")
    login(sf_bin, sf_home, server.url, server.token, alias="sim")

    def sf(*args: str) -> Any:
        return run_sf(sf_bin, [*args, "--target-org", "sim"], sf_home, cwd=project)

    validation = sf(
        "project", "deploy", "start", "--dry-run", "--test-level", "RunLocalTests", "--source-dir", "force-app"
    )
    assert validation.returncode == 0, validation
    summary = _explain(capsys, tmp_path / "validate.json", validation.stdout)
    raw = validation.json["result"]
    assert (summary["kind"], summary["status"]) == ("validate", "Succeeded")
    assert summary["components"]["total"] == int(raw["numberComponentsTotal"]) > 0
    assert summary["components"]["failed"] == 0
    assert summary["tests"] == {"run": int(raw["numberTestsTotal"]), "failed": 0, "failures": []}
    org_wide, per_class = _expected_coverage(raw["details"]["runTestResult"]["codeCoverage"])
    assert summary["coverage"]["org_wide_pct"] == pytest.approx(org_wide, abs=0.01)
    assert {c["name"]: c["pct"] for c in summary["coverage"]["classes"]} == pytest.approx(per_class, abs=0.01)
    assert per_class["ElaroGreeter"] < 100  # the scenario's 70 % makes the maths non-trivial

    quick = sf("project", "deploy", "quick", "--job-id", raw["id"])
    assert quick.returncode == 0, quick
    summary = _explain(capsys, tmp_path / "quick.json", quick.stdout)
    assert summary["status"] == "Succeeded" and summary["id"] == quick.json["result"]["id"]
    assert summary["kind"] in ("quick", "deploy")
    assert summary["components"]["deployed"] == int(quick.json["result"]["numberComponentsDeployed"]) > 0

    report = sf("project", "deploy", "report", "--job-id", quick.json["result"]["id"])
    assert report.returncode == 0, report
    summary = _explain(capsys, tmp_path / "report.json", report.stdout)
    assert summary["status"] == "Succeeded" and summary["id"] == quick.json["result"]["id"]

    retrieved = sf("project", "retrieve", "start", "--metadata", "ApexClass", "--output-dir", "retrieved")
    assert retrieved.returncode == 0, retrieved
    summary = _explain(capsys, tmp_path / "retrieve.json", retrieved.stdout)
    assert (summary["kind"], summary["status"]) == ("retrieve", "Succeeded")
    assert summary["components"]["failed"] == 0 and summary["components"]["total"] > 0

    tests = sf("apex", "run", "test", "--test-level", "RunLocalTests", "--code-coverage", "--wait", "5")
    assert tests.returncode == 0, tests
    summary = _explain(capsys, tmp_path / "apex.json", tests.stdout)
    assert summary["kind"] == "apex-test" and summary["tests"]["failed"] == 0
    assert summary["tests"]["run"] == int(tests.json["result"]["summary"]["testsRan"]) > 0
    covered = {c["name"]: c["pct"] for c in summary["coverage"]["classes"]}
    assert covered["ElaroGreeter"] < 100

    query = sf("data", "query", "--use-tooling-api", "--query", "SELECT Name FROM ApexClass ORDER BY Name")
    assert query.returncode == 0, query
    summary = _explain(capsys, tmp_path / "query.json", query.stdout)
    assert summary["kind"] == "query" and summary["total_size"] == query.json["result"]["totalSize"] > 0

    limits = sf("org", "list", "limits")
    assert limits.returncode == 0, limits
    summary = _explain(capsys, tmp_path / "limits.json", limits.stdout)
    assert summary["kind"] == "limits"
    names = {entry["name"] for entry in summary["limits"]}
    assert {"DailyApiRequests"} <= names and len(names) == len(limits.json["result"])
