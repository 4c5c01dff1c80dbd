"""Salesforce's 75 % rule for RunSpecifiedTests: refused before validating when a class of the deploy is reached by
no selected test, and after validating when the validation's per-class coverage is under 75 %."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from testsel_helpers import FIXTURE, Component, delta

from cutover.errors import ExitCode, Failure, UsageError
from cutover.runbook import parse_runbook
from cutover.runbook.models import Runbook
from cutover.sf.results_base import ClassCoverage
from cutover.testsel import check_release_coverage, coverage_shortfall, relevant_test_run, require_class_coverage

DELTA_RUNBOOK = "target: {alias: prod}\nproject: {delta: {enabled: true}}\nsf: {relevant_tests: true}\n"


def cov(name: str, located: int, uncovered: int, kind: str = "Class") -> ClassCoverage:
    return ClassCoverage(name=name, num_locations=located, num_not_covered=uncovered, type=kind)


def test_shortfall_lists_classes_under_75_percent_in_the_order_given() -> None:
    coverage = [
        cov("Money", 10, 4),  # 60 %
        cov("PricingEngine", 4, 1),  # exactly 75 %: enough
        cov("OrderService", 10_000, 2_501),  # 74.99 %: short, and not shown as 75
        cov("Empty", 0, 0),  # nothing to cover counts 100 %
        cov("OrderTrigger", 3, 3, "Trigger"),
    ]
    deploy = ["OrderTrigger", "Money", "PricingEngine", "OrderService", "Empty", "NeverRun", "Money"]
    assert coverage_shortfall(deploy, coverage) == [
        "OrderTrigger 0 %",
        "Money 60 %",
        "OrderService 74.9 %",
        "NeverRun 0 %",  # not in codeCoverage: the tests never ran it
    ]
    assert coverage_shortfall(["money"], [cov("Money", 4, 0)]) == []  # Apex names are case-insensitive
    assert coverage_shortfall([], coverage) == []


def test_rows_of_one_class_are_added_up() -> None:
    assert coverage_shortfall(["Money"], [cov("Money", 10, 10), cov("Money", 10, 0)]) == ["Money 50 %"]


def test_post_validation_refusal_is_one_line_exit_1() -> None:
    with pytest.raises(Failure) as caught:
        require_class_coverage(["Money", "UnusedUtil"], [cov("Money", 10, 4), cov("StringUtils", 5, 0)])
    assert caught.value.exit_code == ExitCode.FAILED == 1
    message = caught.value.message
    assert "\n" not in message and "75 %" in message
    assert message.endswith(": Money 60 %, UnusedUtil 0 %")
    require_class_coverage(["Money"], [cov("Money", 4, 1)])  # 75 %: no refusal


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "p")
    return tmp_path / "p"


def runbook(text: str = DELTA_RUNBOOK) -> Runbook:
    return parse_runbook(text)


def test_pre_validation_refusal_names_the_unreached_classes(project: Path) -> None:
    change = delta(Component("ApexClass", "UnusedUtil"), Component("ApexClass", "Money"))
    with pytest.raises(Failure) as caught:
        relevant_test_run(project, change, runbook())
    assert caught.value.exit_code == 1
    assert "\n" not in caught.value.message
    assert caught.value.message.endswith(
        "reached by no relevant test (RunSpecifiedTests needs 75 % coverage of each): UnusedUtil"
    )


def test_a_reached_release_runs_its_relevant_tests(project: Path) -> None:
    run = relevant_test_run(project, delta(Component("ApexClass", "Money")), runbook())
    assert run.test_level == "RunSpecifiedTests"
    assert run.tests == ("LineBuilderTest", "OrderServiceTest")
    assert run.coverage_required == ("Money",)
    # after validating: Money at 60 % is refused, at 80 % passes
    change = delta(Component("ApexClass", "Money"))
    line = check_release_coverage(project, runbook(), change, [cov("Money", 10, 4)])
    assert line is not None and line.endswith(": Money 60 %")
    assert check_release_coverage(project, runbook(), change, [cov("Money", 10, 2)]) is None
    # the rule does not apply without relevant tests
    plain = runbook("target: {alias: prod}\nproject: {delta: {enabled: true}}\n")
    assert check_release_coverage(project, plain, change, [cov("Money", 10, 4)]) is None


def test_without_a_delta_deploy_every_class_of_the_project_needs_coverage(project: Path) -> None:
    whole = runbook("target: {alias: prod}\nsf: {relevant_tests: true}\n")
    with pytest.raises(Failure) as caught:
        relevant_test_run(project, delta(Component("ApexClass", "Money")), whole)
    # Money is reached, but the full deploy also carries classes that LineBuilderTest/OrderServiceTest never reach
    assert "UnusedUtil" in caught.value.message and "AccountService" in caught.value.message
    assert ": Money" not in caught.value.message and ", Money," not in caught.value.message


def test_no_apex_in_the_release_runs_no_tests(project: Path) -> None:
    run = relevant_test_run(project, delta(Component("LightningComponentBundle", "orderCard")), runbook())
    assert (run.test_level, run.tests) == ("NoTestRun", ())


def test_run_relevant_tests_needs_api_66(project: Path) -> None:
    asked = runbook()
    asked = asked.model_copy(update={"sf": asked.sf.model_copy(update={"test_level": "RunRelevantTests"})})
    change = delta(Component("ApexClass", "UnusedUtil"))
    with pytest.raises(UsageError, match=r"needs API version 66 or later \(the project's is 62.0\)"):
        relevant_test_run(project, change, asked)
    newer = asked.model_copy(update={"sf": asked.sf.model_copy(update={"api_version": "66.0"})})
    run = relevant_test_run(project, change, newer)  # Salesforce picks: no refusal for UnusedUtil
    assert (run.test_level, run.tests) == ("RunRelevantTests", ())
    assert check_release_coverage(project, newer, change, []) is None


def test_apex_that_needs_no_coverage_and_no_test_keeps_the_runbook_level(project: Path) -> None:
    # OrderStatus is an enum nobody uses: nothing to cover, no test to name, but Apex in a production deploy
    run = relevant_test_run(project, delta(Component("ApexClass", "OrderStatus")), runbook())
    assert (run.test_level, run.tests) == ("RunLocalTests", ())
