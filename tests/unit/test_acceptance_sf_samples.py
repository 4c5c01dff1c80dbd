"""Acceptance (issue 2): the sf adapter's parsers and `cutover explain` against the public reference shapes in
../shared/reference/sf-samples/ beside the repository (read in place, not copied: the reference is the team's, not
the project's): every deploy status variant of plugin-deploy-retrieve, every `sf apex run test` result of
plugin-apex, and a raw /limits answer. CI lays shared/ beside the clone; elsewhere the module is skipped.

Expected values are recomputed here from the raw documents, never typed in by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cutover.sf import SfResult
from cutover.sf.errors import error_for
from cutover.sf.explain import explain_document
from cutover.sf.results import parse_deploy_result, parse_limits, parse_test_run

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "reference" / "sf-samples"
if not SAMPLES.is_dir():
    pytest.skip(f"no shared reference samples at {SAMPLES}", allow_module_level=True)


def _load(name: str) -> dict[str, Any]:
    doc = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return {key: value for key, value in doc.items() if not key.startswith("_")}


DEPLOYS = _load("pdr_MetadataApiDeployStatus_variants.json")
TEST_RUNS = _load("plugin_apex_test_run_results.json")
# sf exits 0 for success, 68 for a partial success, 1 for everything that failed.
EXIT = {"Succeeded": 0, "SucceededPartial": 68}


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else value if isinstance(value, list) else [value]


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _pct(covered_of: dict[str, Any]) -> float:
    total, missed = int(covered_of["numLocations"]), int(covered_of["numLocationsNotCovered"])
    return 100.0 if total == 0 else max(0.0, round(100 * (total - missed) / total, 2))


@pytest.mark.parametrize("variant", sorted(DEPLOYS))
def test_every_deploy_status_variant_parses_like_the_raw_document(variant: str) -> None:
    raw = DEPLOYS[variant]
    parsed = parse_deploy_result(raw)
    assert parsed.status == raw["status"]
    assert parsed.finished == _truthy(raw["done"])
    assert parsed.failed == (raw["status"] in ("Failed", "Canceled"))
    details = raw.get("details") or {}
    assert len(parsed.component_failures) == len(_as_list(details.get("componentFailures")))
    run = details.get("runTestResult")
    if run:
        assert parsed.tests is not None
        assert parsed.tests.num_failures == int(run.get("numFailures", 0))
        assert len(parsed.test_failures) == len(_as_list(run.get("failures")))
        expected = {c["name"]: _pct(c) for c in _as_list(run.get("codeCoverage"))}
        assert {c.name: c.pct for c in parsed.coverage} == pytest.approx(expected)

    code = EXIT.get(raw["status"], 1 if parsed.failed else 0)
    envelope = {"status": code, "result": raw, "warnings": []}
    answer = SfResult(("sf", "project", "deploy", "report"), code, envelope, json.dumps(envelope), "", 1.0, False)
    assert error_for(answer) is None  # a result document: the typed command reads it, never a generic error

    summary = explain_document(envelope)
    assert summary["status"] == raw["status"]
    if "components" in summary:
        assert summary["components"]["failed"] == len(_as_list(details.get("componentFailures")))


@pytest.mark.parametrize("name", sorted(TEST_RUNS))
def test_every_apex_test_run_shape_parses_like_the_raw_document(name: str) -> None:
    doc = TEST_RUNS[name]
    result = doc.get("result", doc)
    parsed = parse_test_run(result)
    summary = result["summary"]
    assert parsed.outcome == summary["outcome"]
    assert parsed.failing == int(summary["failing"])
    if summary.get("testsRan") is not None:
        assert parsed.tests_ran == int(summary["testsRan"])
    # Tooling-record shapes spell it "Outcome"; the CLI's --json shape "outcome".
    failed_tests = [t for t in result["tests"] if (t.get("outcome") or t.get("Outcome")) in ("Fail", "CompileFail")]
    assert len(parsed.failures) == len(failed_tests)
    if summary.get("orgWideCoverage"):
        assert parsed.org_wide_coverage_pct == float(summary["orgWideCoverage"].rstrip("%"))


def test_raw_rest_limits_answer_keeps_every_limit() -> None:
    raw = json.loads((SAMPLES / "swiftly_MockLimits_limits_response.json").read_text(encoding="utf-8"))
    parsed = {limit.name: (limit.max, limit.remaining) for limit in parse_limits(raw)}
    assert parsed == {name: (int(v["Max"]), int(v["Remaining"])) for name, v in raw.items()}
