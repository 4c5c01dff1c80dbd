"""`sf.test_level: RunRelevantTests` (a deploy-only level, API 66.0+): the validation asks Salesforce for it; the
sandbox coverage run (`sf apex run test`, which has no such level) runs RunLocalTests; other sections refuse it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cutover.errors import CutoverError
from cutover.runbook import parse_runbook
from cutover.runbook.plan import build_plan

ELARO = Path(__file__).resolve().parents[3] / "examples" / "elaro" / "cutover.yaml"


def _runbook(level: str, *, test_org: str = "null", verify_level: str = "RunLocalTests"):
    text = ELARO.read_text()
    text = text.replace("  test_level: RunLocalTests        #", f"  test_level: {level}        #", 1)
    text = text.replace("  test_org: null ", f"  test_org: {test_org} ", 1)
    text = text.replace("\n  test_level: RunLocalTests\n", f"\n  test_level: {verify_level}\n", 1)
    return parse_runbook(text)


def test_run_relevant_tests_is_a_deploy_level_and_the_sandbox_run_uses_run_local_tests() -> None:
    runbook = _runbook("RunRelevantTests", test_org="full-sandbox")
    assert runbook.sf.test_level == "RunRelevantTests"
    assert runbook.sf.apex_test_level == "RunLocalTests"
    steps = {step.id: step for step in build_plan(runbook)}
    validate = steps["validate.dry-run"].sf_command or ""
    assert "--test-level RunRelevantTests" in validate
    coverage = steps["preflight.apex-coverage"].sf_command or ""
    assert "sf apex run test --target-org full-sandbox --test-level RunLocalTests" in coverage


def test_other_levels_pass_through_and_apex_runs_refuse_run_relevant_tests() -> None:
    assert _runbook("RunAllTestsInOrg").sf.apex_test_level == "RunAllTestsInOrg"
    with pytest.raises(CutoverError, match="test_level"):
        _runbook("RunLocalTests", verify_level="RunRelevantTests")
