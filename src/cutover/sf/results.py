"""Typed, immutable views of what `sf ... --json` returns, and the parsers that build them (the stable import path).

Parsers take the envelope's `result` (a dict, or a list for `org list limits`) and are tolerant of odd shapes:
counters may be strings, booleans may be "true", lists may be lone objects, keys may be missing. A field that is
not there reads as 0 / False / "" / None. See `coerce.py` for the rules. A count that cannot be true (infinite,
negative, fractional, a boolean) is not guessed at: the parser raises `SfMalformedOutput`.

The code lives in `results_base` (coverage, test cases), `results_deploy` (deploy, retrieve), `results_apex`
(apex test runs, anonymous Apex) and `results_org` (query, org display/list, limits).
"""

from __future__ import annotations

from cutover.sf.results_apex import AnonymousApexResult, TestRunResult, parse_anonymous_apex, parse_test_run
from cutover.sf.results_base import FAILED_STATUSES, FINAL_STATUSES, ClassCoverage, TestCase, coverage_pct
from cutover.sf.results_deploy import (
    ComponentMessage,
    DeployResult,
    DeployTests,
    FileProperty,
    FileResponse,
    RetrieveMessage,
    RetrieveResult,
    parse_code_coverage,
    parse_deploy_result,
    parse_deploy_tests,
    parse_files,
    parse_retrieve_result,
)
from cutover.sf.results_org import (
    OrgInfo,
    OrgLimit,
    QueryResult,
    normalise_url,
    parse_limits,
    parse_org_info,
    parse_org_list,
    parse_query_result,
)

__all__ = [
    "FAILED_STATUSES",
    "FINAL_STATUSES",
    "AnonymousApexResult",
    "ClassCoverage",
    "ComponentMessage",
    "DeployResult",
    "DeployTests",
    "FileProperty",
    "FileResponse",
    "OrgInfo",
    "OrgLimit",
    "QueryResult",
    "RetrieveMessage",
    "RetrieveResult",
    "TestCase",
    "TestRunResult",
    "coverage_pct",
    "normalise_url",
    "parse_anonymous_apex",
    "parse_code_coverage",
    "parse_deploy_result",
    "parse_deploy_tests",
    "parse_files",
    "parse_limits",
    "parse_org_info",
    "parse_org_list",
    "parse_query_result",
    "parse_retrieve_result",
    "parse_test_run",
]
