"""Deploy and retrieve results (`project deploy start|validate|quick|report|resume|cancel`, `retrieve start`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cutover.sf.coerce import (
    as_bool,
    as_count,
    as_dict,
    as_list,
    as_opt_int,
    as_opt_str,
    as_str,
)
from cutover.sf.results_base import FAILED_STATUSES, FINAL_STATUSES, ClassCoverage, TestCase, coverage_pct


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
                num_locations=as_count(entry.get("numLocations"), "numLocations"),
                num_not_covered=as_count(entry.get("numLocationsNotCovered"), "numLocationsNotCovered"),
                type=as_str(entry.get("type"), "Class") or "Class",
            )
        )
    return tuple(out)


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
    num_run = as_count(data.get("numTestsRun"), "numTestsRun")
    return DeployTests(
        # Mocks and some servers report numTestsRun 0 alongside listed outcomes; trust the larger figure.
        num_run=max(num_run, len(failures) + len(successes)),
        num_failures=max(as_count(data.get("numFailures"), "numFailures"), len(failures)),
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
        components_total=as_count(data.get("numberComponentsTotal"), "numberComponentsTotal"),
        components_deployed=as_count(data.get("numberComponentsDeployed"), "numberComponentsDeployed"),
        component_errors=as_count(data.get("numberComponentErrors"), "numberComponentErrors"),
        tests_total=as_count(data.get("numberTestsTotal"), "numberTestsTotal"),
        tests_completed=as_count(data.get("numberTestsCompleted"), "numberTestsCompleted"),
        test_errors=as_count(data.get("numberTestErrors"), "numberTestErrors"),
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
