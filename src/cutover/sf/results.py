"""Typed, immutable views of what `sf ... --json` returns, and the tolerant parsers that build them.

Parsers take the envelope's `result` (a dict, or a list for `org list limits`) and never raise on odd shapes:
counters may be strings, booleans may be "true", lists may be lone objects, keys may be missing. A field that is
not there reads as 0 / False / "" / None. See `coerce.py` for the rules.

Coverage is computed the way the CLI does it (plugin-deploy-retrieve `utils/coverage.ts`):
pct = 100 * Σ(numLocations − numLocationsNotCovered) / Σ numLocations, and a class with no locations counts 100%.
Every class's covered lines are summed, whether or not it has uncovered lines (sfdx-hardis only adds them when
`numLocationsNotCovered > 0`, which under-counts fully covered classes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cutover.sf.coerce import (
    as_bool,
    as_dict,
    as_int,
    as_list,
    as_opt_int,
    as_opt_str,
    as_str,
    parse_duration_ms,
    parse_percent,
)

# Deploy/retrieve request states after which nothing changes any more.
FINAL_STATUSES = frozenset({"Succeeded", "SucceededPartial", "Failed", "Canceled"})
FAILED_STATUSES = frozenset({"Failed", "Canceled", "FinalizingFailed"})


# --------------------------------------------------------------------------------------------------------- coverage
@dataclass(frozen=True)
class ClassCoverage:
    """Lines of one Apex class or trigger that tests reached."""

    name: str
    num_locations: int
    num_not_covered: int
    type: str = "Class"

    @property
    def covered(self) -> int:
        # Clamped: upstream mocks carry numLocationsNotCovered > numLocations; a class never covers < 0 lines.
        return max(0, self.num_locations - max(0, self.num_not_covered))

    @property
    def pct(self) -> float:
        if self.num_locations <= 0:
            return 100.0
        return 100.0 * self.covered / self.num_locations


def coverage_pct(classes: Iterable[ClassCoverage]) -> float | None:
    """Aggregate line coverage over `classes`; None when there is no coverage data at all."""
    items = list(classes)
    if not items:
        return None
    total = sum(max(0, c.num_locations) for c in items)
    if total == 0:
        return 100.0
    return 100.0 * sum(c.covered for c in items) / total


def parse_code_coverage(entries: Any) -> tuple[ClassCoverage, ...]:
    """`runTestResult.codeCoverage[]` of a deploy result."""
    out = []
    for raw in as_list(entries):
        entry = as_dict(raw)
        name = as_str(entry.get("name")) or as_str(entry.get("id"))
        if not name:
            continue
        out.append(
            ClassCoverage(
                name=name,
                num_locations=as_int(entry.get("numLocations")),
                num_not_covered=as_int(entry.get("numLocationsNotCovered")),
                type=as_str(entry.get("type"), "Class") or "Class",
            )
        )
    return tuple(out)


# ------------------------------------------------------------------------------------------------------------ tests
@dataclass(frozen=True)
class TestCase:
    """One Apex test method's outcome (Pass | Fail | CompileFail | Skip)."""

    __test__ = False  # not a pytest test class, despite the name

    class_name: str
    method: str
    outcome: str
    message: str | None = None
    stack_trace: str | None = None
    time_ms: int | None = None

    @property
    def full_name(self) -> str:
        return f"{self.class_name}.{self.method}" if self.method else self.class_name

    @property
    def failed(self) -> bool:
        return self.outcome in ("Fail", "CompileFail")


@dataclass(frozen=True)
class DeployTests:
    """`details.runTestResult` of a deploy or validation."""

    num_run: int
    num_failures: int
    total_time_ms: int | None
    successes: tuple[TestCase, ...]
    failures: tuple[TestCase, ...]
    coverage: tuple[ClassCoverage, ...]
    coverage_warnings: tuple[str, ...]

    @property
    def coverage_pct(self) -> float | None:
        return coverage_pct(self.coverage)


def _deploy_test_case(raw: Any, outcome: str) -> TestCase:
    entry = as_dict(raw)
    return TestCase(
        class_name=as_str(entry.get("name")),
        method=as_str(entry.get("methodName")),
        outcome=outcome,
        message=as_opt_str(entry.get("message")),
        stack_trace=as_opt_str(entry.get("stackTrace")),
        time_ms=as_opt_int(entry.get("time")),
    )


def parse_deploy_tests(raw: Any) -> DeployTests | None:
    data = as_dict(raw)
    if not data:
        return None
    failures = tuple(_deploy_test_case(item, "Fail") for item in as_list(data.get("failures")))
    successes = tuple(_deploy_test_case(item, "Pass") for item in as_list(data.get("successes")))
    warnings = tuple(
        as_str(as_dict(item).get("message")) for item in as_list(data.get("codeCoverageWarnings")) if as_dict(item)
    )
    num_run = as_int(data.get("numTestsRun"))
    return DeployTests(
        # Mocks and some servers report numTestsRun 0 alongside listed outcomes; trust the larger figure.
        num_run=max(num_run, len(failures) + len(successes)),
        num_failures=max(as_int(data.get("numFailures")), len(failures)),
        total_time_ms=as_opt_int(data.get("totalTime")),
        successes=successes,
        failures=failures,
        coverage=parse_code_coverage(data.get("codeCoverage")),
        coverage_warnings=tuple(w for w in warnings if w),
    )


# ----------------------------------------------------------------------------------------------------------- deploy
@dataclass(frozen=True)
class ComponentMessage:
    """A `details.componentSuccesses[]` / `componentFailures[]` row (a DeployMessage)."""

    type: str
    name: str
    file: str
    success: bool
    changed: bool = False
    created: bool = False
    deleted: bool = False
    problem: str | None = None
    problem_type: str | None = None
    line: int | None = None
    column: int | None = None
    id: str | None = None


def _component(raw: Any) -> ComponentMessage:
    entry = as_dict(raw)
    return ComponentMessage(
        type=as_str(entry.get("componentType")),
        name=as_str(entry.get("fullName")),
        file=as_str(entry.get("fileName")),
        success=as_bool(entry.get("success")),
        changed=as_bool(entry.get("changed")),
        created=as_bool(entry.get("created")),
        deleted=as_bool(entry.get("deleted")),
        problem=as_opt_str(entry.get("problem")),
        problem_type=as_opt_str(entry.get("problemType")),
        line=as_opt_int(entry.get("lineNumber")),
        column=as_opt_int(entry.get("columnNumber")),
        id=as_opt_str(entry.get("id")),
    )


@dataclass(frozen=True)
class FileResponse:
    """A `files[]` row: what happened to one local file (Created | Changed | Unchanged | Deleted | Failed)."""

    full_name: str
    type: str
    state: str
    file_path: str | None = None
    error: str | None = None
    problem_type: str | None = None
    line: int | None = None
    column: int | None = None


def parse_files(entries: Any) -> tuple[FileResponse, ...]:
    out = []
    for raw in as_list(entries):
        entry = as_dict(raw)
        if not entry:
            continue
        out.append(
            FileResponse(
                full_name=as_str(entry.get("fullName")),
                type=as_str(entry.get("type")),
                state=as_str(entry.get("state")),
                file_path=as_opt_str(entry.get("filePath")),
                error=as_opt_str(entry.get("error")),
                problem_type=as_opt_str(entry.get("problemType")),
                line=as_opt_int(entry.get("lineNumber")),
                column=as_opt_int(entry.get("columnNumber")),
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class DeployResult:
    """The result of `project deploy start|validate|quick|report|resume|cancel` (Metadata API DeployResult + files)."""

    id: str
    status: str
    success: bool
    done: bool
    check_only: bool
    components_total: int = 0
    components_deployed: int = 0
    component_errors: int = 0
    tests_total: int = 0
    tests_completed: int = 0
    test_errors: int = 0
    run_tests_enabled: bool = False
    ignore_warnings: bool = False
    rollback_on_error: bool = True
    created_date: str | None = None
    completed_date: str | None = None
    state_detail: str | None = None
    error_message: str | None = None
    error_status_code: str | None = None
    component_successes: tuple[ComponentMessage, ...] = ()
    component_failures: tuple[ComponentMessage, ...] = ()
    tests: DeployTests | None = None
    files: tuple[FileResponse, ...] = ()
    deploy_url: str | None = None

    @property
    def finished(self) -> bool:
        return self.done or self.status in FINAL_STATUSES

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES or (self.done and not self.success)

    @property
    def succeeded(self) -> bool:
        return self.status == "Succeeded" or (self.done and self.success and self.status != "SucceededPartial")

    @property
    def failures(self) -> tuple[ComponentMessage, ...]:
        """Component failures; built from failed `files[]` rows when `details` has none (`--concise`, report)."""
        if self.component_failures:
            return self.component_failures
        return tuple(
            ComponentMessage(
                type=f.type,
                name=f.full_name,
                file=f.file_path or "",
                success=False,
                problem=f.error,
                problem_type=f.problem_type,
                line=f.line,
                column=f.column,
            )
            for f in self.files
            if f.state == "Failed"
        )

    @property
    def test_failures(self) -> tuple[TestCase, ...]:
        return self.tests.failures if self.tests else ()

    @property
    def coverage(self) -> tuple[ClassCoverage, ...]:
        return self.tests.coverage if self.tests else ()

    @property
    def coverage_pct(self) -> float | None:
        return self.tests.coverage_pct if self.tests else None


def parse_deploy_result(result: Any) -> DeployResult:
    data = as_dict(result)
    # REST deploys (deployRequest) wrap the Metadata API result one level down.
    if "deployResult" in data and isinstance(data.get("deployResult"), Mapping):
        inner = dict(as_dict(data["deployResult"]))
        inner.setdefault("id", data.get("id"))
        inner.setdefault("files", data.get("files"))
        data = inner
    details = as_dict(data.get("details"))
    return DeployResult(
        id=as_str(data.get("id")),
        status=as_str(data.get("status")),
        success=as_bool(data.get("success")),
        done=as_bool(data.get("done")),
        check_only=as_bool(data.get("checkOnly")),
        components_total=as_int(data.get("numberComponentsTotal")),
        components_deployed=as_int(data.get("numberComponentsDeployed")),
        component_errors=as_int(data.get("numberComponentErrors")),
        tests_total=as_int(data.get("numberTestsTotal")),
        tests_completed=as_int(data.get("numberTestsCompleted")),
        test_errors=as_int(data.get("numberTestErrors")),
        run_tests_enabled=as_bool(data.get("runTestsEnabled")),
        ignore_warnings=as_bool(data.get("ignoreWarnings")),
        rollback_on_error=as_bool(data.get("rollbackOnError"), True),
        created_date=as_opt_str(data.get("createdDate")),
        completed_date=as_opt_str(data.get("completedDate")),
        state_detail=as_opt_str(data.get("stateDetail")),
        error_message=as_opt_str(data.get("errorMessage")),
        error_status_code=as_opt_str(data.get("errorStatusCode")),
        component_successes=tuple(_component(c) for c in as_list(details.get("componentSuccesses")) if as_dict(c)),
        component_failures=tuple(_component(c) for c in as_list(details.get("componentFailures")) if as_dict(c)),
        tests=parse_deploy_tests(details.get("runTestResult")),
        files=parse_files(data.get("files")),
        deploy_url=as_opt_str(data.get("deployUrl")),
    )


# --------------------------------------------------------------------------------------------------------- retrieve
@dataclass(frozen=True)
class FileProperty:
    full_name: str
    type: str
    file_name: str
    id: str | None = None
    last_modified_by: str | None = None
    last_modified_date: str | None = None
    manageable_state: str | None = None


@dataclass(frozen=True)
class RetrieveMessage:
    file_name: str
    problem: str


@dataclass(frozen=True)
class RetrieveResult:
    """The result of `project retrieve start` (source or metadata format)."""

    id: str
    status: str
    success: bool
    done: bool
    files: tuple[FileResponse, ...] = ()
    file_properties: tuple[FileProperty, ...] = ()
    messages: tuple[RetrieveMessage, ...] = ()
    zip_file_path: str | None = None

    @property
    def failed_files(self) -> tuple[FileResponse, ...]:
        return tuple(f for f in self.files if f.state == "Failed")

    @property
    def failed(self) -> bool:
        # The CLI exits 0 for a failed retrieve in --json mode: the document is the only signal.
        return (not self.success) or self.status in FAILED_STATUSES or bool(self.failed_files)


def parse_retrieve_result(result: Any) -> RetrieveResult:
    data = as_dict(result)
    props = []
    for raw in as_list(data.get("fileProperties")):
        entry = as_dict(raw)
        if entry:
            props.append(
                FileProperty(
                    full_name=as_str(entry.get("fullName")),
                    type=as_str(entry.get("type")),
                    file_name=as_str(entry.get("fileName")),
                    id=as_opt_str(entry.get("id")),
                    last_modified_by=as_opt_str(entry.get("lastModifiedByName")),
                    last_modified_date=as_opt_str(entry.get("lastModifiedDate")),
                    manageable_state=as_opt_str(entry.get("manageableState")),
                )
            )
    messages = []
    for raw in as_list(data.get("messages")):
        entry = as_dict(raw)
        if entry:
            messages.append(
                RetrieveMessage(file_name=as_str(entry.get("fileName")), problem=as_str(entry.get("problem")))
            )
    return RetrieveResult(
        id=as_str(data.get("id")),
        status=as_str(data.get("status")),
        success=as_bool(data.get("success")),
        done=as_bool(data.get("done")),
        files=parse_files(data.get("files")),
        file_properties=tuple(props),
        messages=tuple(messages),
        zip_file_path=as_opt_str(data.get("zipFilePath")),
    )


# ----------------------------------------------------------------------------------------------------- apex tests
@dataclass(frozen=True)
class TestRunResult:
    """The result of `apex run test` / `apex get test` (RunResult). `completed` is False when only an id came back."""

    __test__ = False

    test_run_id: str
    completed: bool
    outcome: str = ""
    tests_ran: int = 0
    passing: int = 0
    failing: int = 0
    skipped: int = 0
    pass_rate: float | None = None
    org_wide_coverage_pct: float | None = None
    test_run_coverage_pct: float | None = None
    execution_time_ms: int | None = None
    tests: tuple[TestCase, ...] = ()
    class_coverage: tuple[ClassCoverage, ...] = ()

    @property
    def failures(self) -> tuple[TestCase, ...]:
        return tuple(t for t in self.tests if t.failed)

    @property
    def failed(self) -> bool:
        return self.outcome == "Failed" or self.failing > 0


def _get(entry: Mapping[str, Any], *names: str) -> Any:
    """First present key among `names` (the RunResult appears both as `Outcome` and as `outcome`)."""
    for name in names:
        if name in entry:
            return entry[name]
    return None


def _apex_test_case(raw: Any) -> TestCase:
    entry = as_dict(raw)
    apex_class = as_dict(_get(entry, "ApexClass", "apexClass"))
    class_name = as_str(_get(apex_class, "Name", "name"))
    method = as_str(_get(entry, "MethodName", "methodName"))
    full_name = as_str(_get(entry, "FullName", "fullName"))
    if not class_name and "." in full_name:
        class_name = full_name.rsplit(".", 1)[0]
    return TestCase(
        class_name=class_name,
        method=method,
        outcome=as_str(_get(entry, "Outcome", "outcome")),
        message=as_opt_str(_get(entry, "Message", "message")),
        stack_trace=as_opt_str(_get(entry, "StackTrace", "stackTrace")),
        time_ms=as_opt_int(_get(entry, "RunTime", "runTime")),
    )


def _apex_class_coverage(entries: Any) -> tuple[ClassCoverage, ...]:
    out = []
    for raw in as_list(entries):
        entry = as_dict(raw)
        name = as_str(entry.get("name"))
        if not name:
            continue
        total = as_int(entry.get("totalLines"))
        covered = as_int(entry.get("totalCovered"))
        out.append(ClassCoverage(name=name, num_locations=total, num_not_covered=max(0, total - covered)))
    return tuple(out)


def parse_test_run(result: Any) -> TestRunResult:
    data = as_dict(result)
    summary = as_dict(data.get("summary"))
    coverage = as_dict(data.get("coverage"))
    coverage_summary = as_dict(coverage.get("summary"))
    run_id = as_str(summary.get("testRunId")) or as_str(data.get("testRunId"))
    tests = tuple(_apex_test_case(t) for t in as_list(data.get("tests")) if as_dict(t))
    failing = as_int(summary.get("failing"), sum(1 for t in tests if t.failed))
    org_wide = parse_percent(summary.get("orgWideCoverage"))
    if org_wide is None:
        org_wide = parse_percent(coverage_summary.get("orgWideCoverage"))
    run_cov = parse_percent(summary.get("testRunCoverage"))
    if run_cov is None:
        run_cov = parse_percent(coverage_summary.get("testRunCoverage"))
    exec_time = parse_duration_ms(summary.get("testExecutionTime"))
    if exec_time is None:
        exec_time = as_opt_int(summary.get("testExecutionTimeInMs"))
    return TestRunResult(
        test_run_id=run_id,
        completed=bool(summary),
        outcome=as_str(summary.get("outcome")),
        tests_ran=as_int(summary.get("testsRan"), len(tests)),
        passing=as_int(summary.get("passing")),
        failing=failing,
        skipped=as_int(summary.get("skipped")),
        pass_rate=parse_percent(summary.get("passRate")),
        org_wide_coverage_pct=org_wide,
        test_run_coverage_pct=run_cov,
        execution_time_ms=exec_time,
        tests=tests,
        class_coverage=_apex_class_coverage(coverage.get("coverage")),
    )


# ----------------------------------------------------------------------------------------------------------- query
@dataclass(frozen=True)
class QueryResult:
    records: tuple[Mapping[str, Any], ...]
    total_size: int
    done: bool

    def rows(self) -> list[dict[str, Any]]:
        """Records without the `attributes` bookkeeping (nested relationship objects keep theirs stripped too)."""
        return [_strip_attributes(r) for r in self.records]


def _strip_attributes(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _strip_attributes(v) for k, v in value.items() if k != "attributes"}
    if isinstance(value, list):
        return [_strip_attributes(v) for v in value]
    return value


def parse_query_result(result: Any) -> QueryResult:
    data = as_dict(result)
    records = tuple(as_dict(r) for r in as_list(data.get("records")) if isinstance(r, Mapping))
    return QueryResult(
        records=records,
        total_size=as_int(data.get("totalSize"), len(records)),
        done=as_bool(data.get("done"), True),
    )


# -------------------------------------------------------------------------------------------------------------- org
@dataclass(frozen=True)
class OrgInfo:
    """Who an alias points at (from `org display`, an `org list` row, or `org login`). Never holds a token."""

    org_id: str
    username: str
    instance_url: str
    api_version: str | None = None
    alias: str | None = None
    connected_status: str | None = None
    login_url: str | None = None
    is_sandbox: bool | None = None
    is_scratch: bool | None = None
    is_dev_hub: bool | None = None
    is_default: bool = False
    org_name: str | None = None

    @property
    def connected(self) -> bool:
        return self.connected_status == "Connected"


def normalise_url(url: str) -> str:
    """Instance URLs are stored with and without a trailing slash (forcedotcom/cli#361); compare without it."""
    return url.strip().rstrip("/")


def parse_org_info(result: Any) -> OrgInfo:
    data = as_dict(result)
    opt_bool = {k: (as_bool(data[k]) if k in data and data[k] is not None else None) for k in _ORG_FLAGS}
    return OrgInfo(
        org_id=as_str(data.get("id")) or as_str(data.get("orgId")),
        username=as_str(data.get("username")),
        instance_url=normalise_url(as_str(data.get("instanceUrl"))),
        api_version=as_opt_str(data.get("apiVersion")) or as_opt_str(data.get("instanceApiVersion")),
        alias=as_opt_str(data.get("alias")),
        connected_status=as_opt_str(data.get("connectedStatus")),
        login_url=as_opt_str(data.get("loginUrl")),
        is_sandbox=opt_bool["isSandbox"],
        is_scratch=opt_bool["isScratch"],
        is_dev_hub=opt_bool["isDevHub"],
        is_default=as_bool(data.get("isDefaultUsername")),
        org_name=as_opt_str(data.get("name")) or as_opt_str(data.get("orgName")),
    )


_ORG_FLAGS = ("isSandbox", "isScratch", "isDevHub")
_ORG_LIST_GROUPS = ("other", "sandboxes", "devHubs", "scratchOrgs", "nonScratchOrgs")


def parse_org_list(result: Any) -> tuple[OrgInfo, ...]:
    """Every org in `org list`, once (`nonScratchOrgs` repeats the other groups; it is read last, for old CLIs)."""
    data = as_dict(result)
    seen: set[str] = set()
    out = []
    for group in _ORG_LIST_GROUPS:
        for raw in as_list(data.get(group)):
            info = parse_org_info(raw)
            key = info.username or info.org_id
            if key and key not in seen:
                seen.add(key)
                out.append(info)
    return tuple(out)


@dataclass(frozen=True)
class OrgLimit:
    name: str
    max: int
    remaining: int

    @property
    def used(self) -> int:
        return max(0, self.max - self.remaining)

    @property
    def used_pct(self) -> float:
        return 100.0 * self.used / self.max if self.max > 0 else 0.0


def parse_limits(result: Any) -> tuple[OrgLimit, ...]:
    """`org list limits` gives `[{name, max, remaining}]`; the raw REST `/limits` body `{Name: {Max, Remaining}}`
    is accepted too, so a saved API response can be explained as well."""
    if isinstance(result, Mapping):
        items: Sequence[Any] = [
            {"name": name, "max": as_dict(v).get("Max"), "remaining": as_dict(v).get("Remaining")}
            for name, v in result.items()
            if isinstance(v, Mapping) and "Max" in v
        ]
    else:
        items = as_list(result)
    out = []
    for raw in items:
        entry = as_dict(raw)
        name = as_str(entry.get("name"))
        if name:
            out.append(OrgLimit(name=name, max=as_int(entry.get("max")), remaining=as_int(entry.get("remaining"))))
    return tuple(out)


# --------------------------------------------------------------------------------------------------- anonymous apex
@dataclass(frozen=True)
class AnonymousApexResult:
    success: bool
    compiled: bool
    compile_problem: str | None = None
    exception_message: str | None = None
    exception_stack_trace: str | None = None
    line: int | None = None
    column: int | None = None
    logs: str = field(default="", repr=False)


def parse_anonymous_apex(result: Any) -> AnonymousApexResult:
    data = as_dict(result)
    return AnonymousApexResult(
        success=as_bool(data.get("success")),
        compiled=as_bool(data.get("compiled")),
        compile_problem=as_opt_str(data.get("compileProblem")),
        exception_message=as_opt_str(data.get("exceptionMessage")),
        exception_stack_trace=as_opt_str(data.get("exceptionStackTrace")),
        line=as_opt_int(data.get("line")),
        column=as_opt_int(data.get("column")),
        logs=as_str(data.get("logs")),
    )


__all__ = [
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
