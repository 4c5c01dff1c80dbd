"""Relevant tests: the Apex test classes a release affects, from a dependency graph of the project's Apex
(tree-sitter, as the scanner), and Salesforce's 75 % rule for RunSpecifiedTests deploys.

    from cutover.testsel import select_tests, coverage_shortfall
    selection = select_tests(project_dir, delta, runbook)  # delta: cutover.delta.Delta
    selection.tests       # tuple[RelevantTest(name, reasons, path)], by name
    selection.uncovered   # Apex classes/triggers of the release no selected test reaches
    selection.refusal()   # one line, or None

    run = relevant_test_run(project_dir, delta, runbook)  # TestRun(test_level, tests, summary, ...) or Failure
    coverage_shortfall(run.coverage_required, deploy_result.tests.coverage)  # ["Money 60 %", ...] under 75 %
    check_release_coverage(project_dir, runbook, delta, coverage)  # the refusal line after validating, or None
"""

from cutover.testsel.coverage import (
    MIN_CLASS_COVERAGE,
    TestRun,
    check_release_coverage,
    coverage_shortfall,
    relevant_test_run,
    require_class_coverage,
    shortfall_message,
    validation_refusal,
)
from cutover.testsel.graph import ApexGraph, ApexUnit, build_graph
from cutover.testsel.select import RelevantTest, TestSelection, select_in_graph, select_tests

__all__ = [
    "MIN_CLASS_COVERAGE",
    "ApexGraph",
    "ApexUnit",
    "RelevantTest",
    "TestRun",
    "TestSelection",
    "build_graph",
    "check_release_coverage",
    "coverage_shortfall",
    "relevant_test_run",
    "require_class_coverage",
    "select_in_graph",
    "select_tests",
    "shortfall_message",
    "validation_refusal",
]
