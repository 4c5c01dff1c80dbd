"""Relevant tests: the Apex test classes a release affects, from a dependency graph of the project's Apex
(tree-sitter, as the scanner), and Salesforce's 75 % rule for RunSpecifiedTests deploys.

    from cutover.testsel import select_tests, coverage_shortfall
    selection = select_tests(project_dir, delta, runbook)  # delta: cutover.delta.Delta
    selection.tests       # tuple[RelevantTest(name, reasons, path)], by name
    selection.uncovered   # Apex classes/triggers of the release no selected test reaches
    selection.refusal()   # one line, or None
"""

from cutover.testsel.graph import ApexGraph, ApexUnit, build_graph
from cutover.testsel.select import RelevantTest, TestSelection, select_in_graph, select_tests

__all__ = [
    "ApexGraph",
    "ApexUnit",
    "RelevantTest",
    "TestSelection",
    "build_graph",
    "select_in_graph",
    "select_tests",
]
