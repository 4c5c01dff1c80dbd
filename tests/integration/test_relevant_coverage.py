"""The 75 % rule with the real sf CLI against orgsim: what Salesforce refuses in a RunSpecifiedTests validation,
cutover refuses with its own one line, before validating (a class no relevant test reaches) and after (a class the
validation measures under 75 %).

The org holds tests/fixtures/testsel as the last release (v1.0.0); each release changes a few classes, the delta
becomes a package.xml (`cutover.delta`), the tests come from `cutover.testsel`. Two validations, one deploy
report, one login.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cutover.delta import compute_delta, write_manifests
from cutover.errors import Failure
from cutover.runbook import parse_runbook
from cutover.sf.results_deploy import parse_deploy_result
from cutover.testsel import check_release_coverage, relevant_test_run, select_tests
from orgsim.testing import OrgsimServer, login, run_sf

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "testsel"
CLASSES = Path("force-app/main/default/classes")
RUNBOOK = parse_runbook("target: {alias: prod}\nproject: {delta: {enabled: true}}\nsf: {relevant_tests: true}\n")


def commit_all(repo: Path, message: str) -> None:
    for args in (["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", message]):
        done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr


def release(tmp_path: Path, name: str, changed: list[str]) -> Path:
    """The fixture tagged v1.0.0, then one commit giving each class in `changed` one more method."""
    repo = tmp_path / name
    shutil.copytree(FIXTURE, repo)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    commit_all(repo, "v1.0.0")
    subprocess.run(["git", "tag", "v1.0.0"], cwd=repo, check=True)
    for cls in changed:
        path = repo / CLASSES / f"{cls}.cls"
        body = path.read_text().rstrip()
        path.write_text(
            body[: body.rindex("}")] + "    public static Integer release() {\n        return 2;\n    }\n}\n"
        )
    commit_all(repo, "the release")
    return repo


def validate(sf_bin: Path, sf_home: Path, repo: Path, tests: tuple[str, ...]) -> Any:
    delta = compute_delta(repo, "v1.0.0", source_dirs=["force-app"])
    package, _ = write_manifests(delta, repo / "delta", "62.0")
    args = ["project", "deploy", "validate", "--manifest", str(package), "--target-org", "prod", "--wait", "5"]
    args += ["--test-level", "RunSpecifiedTests", *[flag for test in tests for flag in ("--tests", test)]]
    return run_sf(sf_bin, args, sf_home, cwd=repo)


def test_salesforce_75_percent_refusals_become_cutover_refusals(
    orgsim_factory: Any, sf_bin: Path, sf_home: Path, tmp_path: Path
) -> None:
    server: OrgsimServer = orgsim_factory(
        {
            "org": {"sandbox": False},
            "metadata": {"seed_dir": str(FIXTURE)},
            "apex": {"coverage": {"PricingEngine": 60}},
        },
        name="prod",
    )
    login(sf_bin, sf_home, server.url, server.token, alias="prod")

    # Before validating: UnusedUtil changed, and no test reaches it. cutover refuses without calling sf...
    repo = release(tmp_path, "unreached", ["StringUtils", "UnusedUtil"])
    delta = compute_delta(repo, "v1.0.0", source_dirs=["force-app"])
    with pytest.raises(Failure) as refused:
        relevant_test_run(repo, delta, RUNBOOK)
    assert refused.value.message.endswith(": UnusedUtil")
    # ... and Salesforce (orgsim, through the real CLI) refuses the same class with the same tests
    tests = select_tests(repo, delta, RUNBOOK).names
    assert tests == ("AccountServiceTest", "StringUtilsTest")
    failed = validate(sf_bin, sf_home, repo, tests)
    assert failed.returncode == 1 and failed.json["name"] == "FailedValidationError", str(failed)
    assert failed.json["message"].endswith(
        "Due To:\nUnusedUtil - Test coverage of selected Apex Class is 0%, at least 75% test coverage is required"
    )

    # After validating: PricingEngine is reached (OrderServiceTest uses PricingEngine.Tier) but covered 60 %
    repo = release(tmp_path, "short", ["PricingEngine"])
    delta = compute_delta(repo, "v1.0.0", source_dirs=["force-app"])
    run = relevant_test_run(repo, delta, RUNBOOK)
    assert (run.test_level, run.tests) == ("RunSpecifiedTests", ("LineBuilderTest", "OrderServiceTest"))
    failed = validate(sf_bin, sf_home, repo, run.tests)
    assert failed.returncode == 1, str(failed)
    assert "PricingEngine - Test coverage of selected Apex Class is 60%" in failed.json["message"]
    # the validation's result, as cutover's validate step reads it (`sf project deploy report`)
    job = failed.json["data"]["deployId"]
    report = run_sf(sf_bin, ["project", "deploy", "report", "--job-id", job, "--target-org", "prod"], sf_home, cwd=repo)
    assert report.json is not None, str(report)
    result = parse_deploy_result(report.json["result"])
    assert result.tests is not None
    line = check_release_coverage(repo, RUNBOOK, delta, result.tests.coverage)
    assert line is not None and line.endswith(
        "below 75 % coverage from the specified tests (Salesforce refuses a RunSpecifiedTests deploy): "
        "PricingEngine 60 %"
    )
