"""The real sf CLI against orgsim's Salesforce-like timing: a quick deploy skips the tests its validation ran, and
RunSpecifiedTests refuses a deploy whose classes the named tests leave under 75 % coverage.

One org holds N service classes and their N test classes; each test class "takes" 0.2 s, run one after another as
in a Salesforce metadata deploy. Three sf calls in all (validate, quick deploy, a failing validation).
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from orgsim.testing import OrgsimServer, SfRun, login, run_sf

pytestmark = pytest.mark.integration

N = 20
TIMING = {
    "validate_seconds": 0.3,
    "deploy_seconds": 0.3,
    "component_seconds": 0.005,
    "test_class_seconds": 0.2,
}
META = '<?xml version="1.0" encoding="UTF-8"?>\n<ApexClass xmlns="http://soap.sforce.com/2006/04/metadata">\n'
META += "    <apiVersion>62.0</apiVersion>\n    <status>Active</status>\n</ApexClass>\n"


def write_project(root: Path, version: int) -> Path:
    """An SFDX project with Svc0..SvcN-1 and their tests; `version` changes every service class's body."""
    classes = root / "force-app" / "main" / "default" / "classes"
    classes.mkdir(parents=True, exist_ok=True)
    (root / "sfdx-project.json").write_text(
        json.dumps({"packageDirectories": [{"path": "force-app", "default": True}], "sourceApiVersion": "62.0"})
    )
    for n in range(N):
        (classes / f"Svc{n}.cls").write_text(
            f"public class Svc{n} {{\n    public static Integer run() {{\n        return {n + version};\n    }}\n}}\n"
        )
        (classes / f"Svc{n}Test.cls").write_text(
            f"@isTest\nprivate class Svc{n}Test {{\n    @isTest static void runs() {{\n"
            f"        System.assert(Svc{n}.run() >= 0);\n    }}\n}}\n"
        )
        for name in (f"Svc{n}", f"Svc{n}Test"):
            (classes / f"{name}.cls-meta.xml").write_text(META)
    return root


def org_seconds(result: dict[str, Any]) -> float:
    start = datetime.fromisoformat(result["startDate"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(result["completedDate"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


def sf(sf_bin: Path, sf_home: Path, project: Path, *args: str) -> tuple[SfRun, float]:
    began = time.monotonic()
    run = run_sf(sf_bin, [*args, "--target-org", "prod", "--wait", "5"], sf_home, cwd=project)
    return run, time.monotonic() - began


def test_quick_deploy_skips_the_tests_and_specified_tests_need_coverage(
    orgsim_factory: Any, sf_bin: Path, sf_home: Path, tmp_path: Path
) -> None:
    seed = write_project(tmp_path / "seed", version=0)
    server: OrgsimServer = orgsim_factory(
        {"org": {"sandbox": False}, "durations": TIMING, "metadata": {"seed_dir": str(seed)}}, name="prod"
    )
    login(sf_bin, sf_home, server.url, server.token, alias="prod")
    project = write_project(tmp_path / "release", version=1)
    source = ["--source-dir", "force-app"]

    validation, validation_wall = sf(
        sf_bin, sf_home, project, "project", "deploy", "validate", *source, "--test-level", "RunLocalTests"
    )
    assert validation.returncode == 0, validation.stdout[-2000:]
    validated = validation.json["result"]
    assert validated["numberTestsTotal"] == N and validated["numberComponentsTotal"] == 2 * N
    expected = 0.3 + 0.005 * 2 * N + 0.2 * N  # fixed + components + every local test class, one after another
    assert org_seconds(validated) == pytest.approx(expected, abs=0.05)

    quick, quick_wall = sf(sf_bin, sf_home, project, "project", "deploy", "quick", "--job-id", validated["id"])
    assert quick.returncode == 0, quick.stdout[-2000:]
    quick_seconds = org_seconds(quick.json["result"])
    assert quick_seconds == pytest.approx(0.3 + 0.005 * 2 * N, abs=0.05)  # no tests: the validation ran them
    assert quick_seconds * 5 < org_seconds(validated)
    assert quick_wall < validation_wall - 1, (quick_wall, validation_wall)  # 4 s of tests skipped

    # RunSpecifiedTests: Svc1 is deployed but Svc0Test never touches it.
    partial = [
        "--source-dir",
        "force-app/main/default/classes/Svc0.cls",
        "--source-dir",
        "force-app/main/default/classes/Svc1.cls",
    ]
    refused, _ = sf(
        sf_bin,
        sf_home,
        project,
        "project",
        "deploy",
        "validate",
        *partial,
        "--test-level",
        "RunSpecifiedTests",
        "--tests",
        "Svc0Test",
    )
    assert refused.returncode == 1 and refused.json["name"] == "FailedValidationError", refused.stdout[-2000:]
    assert refused.json["message"].endswith(
        "Due To:\nSvc1 - Test coverage of selected Apex Class is 0%, at least 75% test coverage is required"
    )


def test_run_relevant_tests_runs_only_the_tests_of_the_change(
    orgsim_factory: Any, sf_bin: Path, sf_home: Path, tmp_path: Path
) -> None:
    seed = write_project(tmp_path / "seed", version=0)
    server: OrgsimServer = orgsim_factory(
        {"org": {"api_version": "66.0"}, "durations": TIMING, "metadata": {"seed_dir": str(seed)}}, name="prod66"
    )
    login(sf_bin, sf_home, server.url, server.token, alias="prod")
    project = write_project(tmp_path / "release", version=1)
    change = ["--source-dir", "force-app/main/default/classes/Svc3.cls"]
    run, _ = sf(sf_bin, sf_home, project, "project", "deploy", "validate", *change, "--test-level", "RunRelevantTests")
    assert run.returncode == 0, run.stdout[-2000:]
    result = run.json["result"]
    tests = result["details"]["runTestResult"]["successes"]
    assert [t["name"] for t in (tests if isinstance(tests, list) else [tests])] == ["Svc3Test"]
    assert org_seconds(result) == pytest.approx(0.3 + 0.005 + 0.2, abs=0.05)  # one test class instead of N
