"""A run's release selection with `sf.relevant_tests` (steps._selection, the real cutover.testsel): the relevant tests
as RunSpecifiedTests, the 75 % refusal before anything is validated, and after (validation_refusal)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from testsel_helpers import add_method, fixture_repo, git

from cutover.engine import Engine, StepContext
from cutover.engine.model import StepSpec
from cutover.errors import Failure
from cutover.runbook import parse_runbook
from cutover.sf.results_base import ClassCoverage
from cutover.steps._selection import release_selection
from cutover.testsel import validation_refusal

RUNBOOK = parse_runbook(
    "target: {alias: prod}\nrelease: {version: '2.0.0'}\nproject: {delta: {enabled: true}}\n"
    "sf: {relevant_tests: true}\n"
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return fixture_repo(tmp_path / "proj", "v1.0.0")


@pytest.fixture
def backup_step(repo: Path) -> Iterator[StepContext]:
    engine = Engine(repo)
    step = StepSpec(id="backup.retrieve", stage="backup", title="b", action="x")
    run = engine.create_run("prod", [step])
    yield StepContext(store=engine.store, record=engine.store.step(run.id, step.id), project_dir=engine.project_dir)
    engine.close()


def test_the_run_validates_with_the_relevant_tests(repo: Path, backup_step: StepContext) -> None:
    add_method(repo, "PricingEngine")
    git(repo, "commit", "-qam", "v2")
    selection = release_selection(backup_step, RUNBOOK)
    assert selection.test_flags() == [
        "--test-level",
        "RunSpecifiedTests",
        "--tests",
        "LineBuilderTest",
        "--tests",
        "OrderServiceTest",
    ]
    assert selection.summary.endswith("; 2 relevant test class(es) for 1 Apex class(es)/trigger(s)")


def test_the_run_refuses_apex_no_relevant_test_reaches(repo: Path, backup_step: StepContext) -> None:
    add_method(repo, "PricingEngine", "UnusedUtil", "ReportFormatter")
    git(repo, "commit", "-qam", "v2")
    with pytest.raises(Failure) as refused:
        release_selection(backup_step, RUNBOOK)
    assert refused.value.exit_code == 1
    assert refused.value.message == (
        "1 Apex class(es)/trigger(s) of the release reached by no relevant test "
        "(RunSpecifiedTests needs 75 % coverage of each): UnusedUtil"
    )


def test_after_the_validation_a_class_under_75_percent_is_refused(repo: Path, backup_step: StepContext) -> None:
    add_method(repo, "PricingEngine")
    git(repo, "commit", "-qam", "v2")
    measured = [ClassCoverage("PricingEngine", 10, 4), ClassCoverage("OrderService", 10, 0)]
    line = validation_refusal(backup_step, RUNBOOK, measured)
    assert line == (
        "1 Apex class(es)/trigger(s) of the release below 75 % coverage from the specified tests "
        "(Salesforce refuses a RunSpecifiedTests deploy): PricingEngine 60 %"
    )
    assert validation_refusal(backup_step, RUNBOOK, [ClassCoverage("PricingEngine", 4, 1)]) is None  # 75 %
    plain = parse_runbook("target: {alias: prod}\nrelease: {version: '2.0.0'}\nproject: {delta: {enabled: true}}\n")
    assert validation_refusal(backup_step, plain, measured) is None  # no relevant tests: the rule does not apply
