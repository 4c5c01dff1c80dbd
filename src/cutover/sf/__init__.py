"""The sf adapter: the only code in cutover that runs the Salesforce CLI.

- `runner.SfCli`: typed commands (org display, data query, deploy start/validate/quick/report/cancel, retrieve,
  apex run test, ...) that return frozen dataclasses and raise errors by meaning;
- `results`: the dataclasses and their tolerant parsers (also used by `cutover explain` on saved JSON);
- `errors`: the error taxonomy, decided from exit code + JSON envelope;
- `process`: binary resolution, the non-interactive environment, timeouts, JSON capture, redaction.
"""

from cutover.sf.errors import (
    ApexExecutionFailed,
    DeployFailed,
    OrgNotFound,
    RetrieveFailed,
    SfApiError,
    SfBadOutput,
    SfCommandFailed,
    SfCrashed,
    SfError,
    SfInterrupted,
    SfMalformedOutput,
    SfNotFound,
    SfTimeout,
    SfUsageError,
    StillRunning,
    TestsFailed,
    ValidationFailed,
    error_for,
)
from cutover.sf.process import SfResult
from cutover.sf.results import (
    ClassCoverage,
    DeployResult,
    OrgInfo,
    OrgLimit,
    QueryResult,
    RetrieveResult,
    TestCase,
    TestRunResult,
    coverage_pct,
)
from cutover.sf.runner import SfCli, command_line, describe_deploy_failure

__all__ = [
    "ApexExecutionFailed",
    "ClassCoverage",
    "DeployFailed",
    "DeployResult",
    "OrgInfo",
    "OrgLimit",
    "OrgNotFound",
    "QueryResult",
    "RetrieveFailed",
    "RetrieveResult",
    "SfApiError",
    "SfBadOutput",
    "SfCli",
    "SfCommandFailed",
    "SfCrashed",
    "SfError",
    "SfInterrupted",
    "SfMalformedOutput",
    "SfNotFound",
    "SfResult",
    "SfTimeout",
    "SfUsageError",
    "StillRunning",
    "TestCase",
    "TestRunResult",
    "TestsFailed",
    "ValidationFailed",
    "command_line",
    "coverage_pct",
    "describe_deploy_failure",
    "error_for",
]
