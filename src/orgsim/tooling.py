"""Tooling API: queries, sobjects and simulated Apex test runs (`runTestsAsynchronous`).

A test run's outcome is decided up front by `orgsim.apexsim` (orgsim never executes Apex). The records the CLI
polls then move Queued → Processing → Completed over the run's duration (`orgsim.timing.test_run_seconds`):
`advance_test_runs` is called before every request and writes ApexTestResult and coverage rows when a run completes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from orgsim import rest, timing
from orgsim.store import format_datetime, parse_datetime
from orgsim.wire import Request, Response, SalesforceApiError, json_response, not_found

if TYPE_CHECKING:
    from orgsim.apexsim import SimulatedRun
    from orgsim.org import Org

PENDING_RUNS = "pending_test_runs"
VALID_LEVELS = ("RunSpecifiedTests", "RunLocalTests", "RunAllTestsInOrg")
# The Tooling API answers 404 for this describe in orgs without source tracking, which tells the CLI to skip it.
NOT_TRACKED = frozenset({"sourcemember"})


def query(request: Request) -> Response:
    return rest._run_query(request, api="tooling")


def describe_global(request: Request) -> Response:
    return rest.describe_global(request, api="tooling")


def sobject_root(request: Request) -> Response:
    return rest.sobject_root(request, api="tooling")


def describe(request: Request) -> Response:
    if request.params["sobject"].lower() in NOT_TRACKED:
        raise not_found()
    return rest.describe(request, api="tooling")


def record(request: Request) -> Response:
    return rest.record(request, api="tooling")


# -- test runs ---------------------------------------------------------------------------------------------------
def _requested_tests(payload: dict[str, Any]) -> tuple[list[str], list[Any]]:
    """(class names, tests) from any of the payload shapes the CLI and other clients send."""
    class_names: list[str] = []
    raw_classes = payload.get("classNames") or payload.get("classnames")
    if isinstance(raw_classes, str):
        class_names = [name.strip() for name in raw_classes.split(",") if name.strip()]
    elif isinstance(raw_classes, list):
        class_names = [str(name) for name in raw_classes]
    tests = payload.get("tests") or []
    if not isinstance(tests, list):
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", "'tests' must be an array")
    return class_names, tests


def run_tests_asynchronous(request: Request) -> Response:
    from orgsim import apexsim

    org = request.org
    payload = request.json()
    if not isinstance(payload, dict):
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
    class_names, tests = _requested_tests(payload)
    if payload.get("suiteNames") or payload.get("suiteids"):
        raise SalesforceApiError(400, "INVALID_INPUT", "orgsim does not emulate Apex test suites; name classes instead")
    level = payload.get("testLevel") or ("RunSpecifiedTests" if class_names or tests else "RunLocalTests")
    if level not in VALID_LEVELS:
        raise SalesforceApiError(400, "INVALID_INPUT", f"Invalid testLevel: {level}")
    try:
        run = apexsim.run_tests(org, level=level, class_names=class_names or None, tests=tests or None)
    except apexsim.UnknownTestError as error:
        raise SalesforceApiError(400, "INVALID_INPUT", str(error)) from None
    if not run.tests:
        raise SalesforceApiError(400, "INVALID_INPUT", "No test classes found to run (no @isTest classes in the org)")
    job_id = start_test_run(org, run, skip_coverage=bool(payload.get("skipCodeCoverage")))
    return json_response(job_id)


def start_test_run(org: Org, run: SimulatedRun, *, skip_coverage: bool = False) -> str:
    """Create the records of a queued run and schedule its completion; returns the AsyncApexJob id (707...)."""
    store = org.store
    now = org.now()
    class_ids: dict[str, str | None] = {}
    for outcome in run.tests:
        class_ids.setdefault(outcome.class_name, outcome.class_id or org.apex_class_id(outcome.class_name))
    with store.transaction():
        job_id = store.insert(
            "AsyncApexJob",
            {
                "JobType": "TestRequest",
                "Status": "Queued",
                "ApexClassId": None,
                "JobItemsProcessed": 0,
                "TotalJobItems": len(class_ids),
                "NumberOfErrors": 0,
                "CompletedDate": None,
                "MethodName": None,
            },
        )
        run_result_id = store.insert(
            "ApexTestRunResult",
            {
                "AsyncApexJobId": job_id,
                "UserId": org.user_id,
                "JobName": None,
                "IsAllTests": run.level == "RunAllTestsInOrg",
                "Source": "RestApi",
                "StartTime": format_datetime(now),
                "EndTime": None,
                "TestTime": None,
                "TestSetupTime": None,
                "Status": "Queued",
                "ClassesEnqueued": len(class_ids),
                "ClassesCompleted": 0,
                "MethodsEnqueued": len(run.tests),
                "MethodsCompleted": 0,
                "MethodsFailed": 0,
            },
        )
        queue_items = {
            class_name: store.insert(
                "ApexTestQueueItem",
                {
                    "ApexClassId": class_id,
                    "ParentJobId": job_id,
                    "TestRunResultId": run_result_id,
                    "Status": "Queued",
                    "ExtendedStatus": None,
                    "ShouldSkipCodeCoverage": skip_coverage,
                },
            )
            for class_name, class_id in class_ids.items()
        }
        pending = store.get_setting(PENDING_RUNS, {})
        pending[job_id] = {
            "run_result_id": run_result_id,
            "queue_items": queue_items,
            "class_ids": class_ids,
            "started": format_datetime(now),
            "skip_coverage": skip_coverage,
            "run": _serialize_run(run),
        }
        store.set_setting(PENDING_RUNS, pending)
    return job_id


def _serialize_run(run: SimulatedRun) -> dict[str, Any]:
    return {
        "tests": [
            {
                "class_name": t.class_name,
                "method": t.method,
                "outcome": t.outcome,
                "message": t.message,
                "stack_trace": t.stack_trace,
                "run_time_ms": t.run_time_ms,
            }
            for t in run.tests
        ],
        "coverage": [
            {"name": c.name, "id": c.id, "kind": c.kind, "lines": list(c.lines), "uncovered": list(c.uncovered)}
            for c in run.coverage
        ],
        "org_wide_percent": run.org_wide_percent,
    }


def advance_test_runs(org: Org) -> None:
    """Move pending runs along: Queued, then Processing (classes finishing wave by wave), then Completed with
    results; durations from orgsim.timing (`test_seconds`, or per test class with `test_parallelism`)."""
    pending: dict[str, Any] = org.store.get_setting(PENDING_RUNS, {})
    if not pending:
        return
    durations = org.scenario.durations
    now = org.now()
    changed = False
    for job_id, state in list(pending.items()):
        classes = len(state["class_ids"])
        elapsed = now - parse_datetime(state["started"])
        if elapsed >= timedelta(seconds=timing.test_run_seconds(durations, classes)):
            _complete_run(org, job_id, state)
            del pending[job_id]
            changed = True
            continue
        if elapsed >= timedelta(seconds=timing.test_run_queue_seconds(durations, classes)) and not state.get(
            "processing"
        ):
            with org.store.transaction():
                org.store.update(state["run_result_id"], {"Status": "Processing"})
                org.store.update(job_id, {"Status": "Processing"})
                for item_id in state["queue_items"].values():
                    org.store.update(item_id, {"Status": "Processing"})
            state["processing"] = True
            changed = True
        finished = timing.classes_completed(durations, classes, elapsed.total_seconds())
        if state.get("processing") and finished > state.get("classes_completed", 0):
            _record_progress(org, job_id, state, finished)
            changed = True
    if changed:
        org.store.set_setting(PENDING_RUNS, pending)


def _record_progress(org: Org, job_id: str, state: dict[str, Any], finished: int) -> None:
    """Classes done so far (whole waves): their queue items complete and the run result counts them."""
    done_classes = list(state["queue_items"])[:finished]
    methods = sum(1 for test in state["run"]["tests"] if test["class_name"] in done_classes)
    with org.store.transaction():
        for class_name in done_classes:
            org.store.update(state["queue_items"][class_name], {"Status": "Completed"})
        org.store.update(state["run_result_id"], {"ClassesCompleted": finished, "MethodsCompleted": methods})
        org.store.update(job_id, {"JobItemsProcessed": finished})
    state["classes_completed"] = finished


def _covering_test(tests: list[dict[str, Any]], class_name: str) -> dict[str, Any]:
    """The test method credited with covering `class_name`: one from `<Class>Test` if there is one."""
    lowered = class_name.lower()
    for test in tests:
        test_class = test["class_name"].lower()
        if test_class.startswith(lowered) or test_class.endswith(lowered) or lowered in test_class:
            return test
    return tests[0]


def _complete_run(org: Org, job_id: str, state: dict[str, Any]) -> None:
    store = org.store
    run = state["run"]
    now = org.now()
    end = format_datetime(now)
    total_ms = sum(test["run_time_ms"] for test in run["tests"])
    failures = sum(1 for test in run["tests"] if test["outcome"] != "Pass")
    class_ids: dict[str, str | None] = state["class_ids"]
    with store.transaction():
        timestamp = parse_datetime(state["started"])
        for test in run["tests"]:
            timestamp += timedelta(milliseconds=test["run_time_ms"])
            store.insert(
                "ApexTestResult",
                {
                    "AsyncApexJobId": job_id,
                    "ApexTestRunResultId": state["run_result_id"],
                    "QueueItemId": state["queue_items"][test["class_name"]],
                    "ApexClassId": class_ids.get(test["class_name"]),
                    "MethodName": test["method"],
                    "Outcome": test["outcome"],
                    "Message": test["message"],
                    "StackTrace": test["stack_trace"],
                    "RunTime": test["run_time_ms"],
                    "TestTimestamp": format_datetime(timestamp),
                    "ApexLogId": None,
                    "IsTestSetup": False,
                },
            )
        if not state["skip_coverage"] and run["tests"]:
            _write_coverage(org, run, class_ids)
        store.update(
            state["run_result_id"],
            {
                "Status": "Completed",
                "EndTime": end,
                "TestTime": total_ms,
                "TestSetupTime": 0,
                "ClassesCompleted": len(class_ids),
                "MethodsCompleted": len(run["tests"]),
                "MethodsFailed": failures,
            },
        )
        store.update(
            job_id,
            {
                "Status": "Completed",
                "CompletedDate": end,
                "JobItemsProcessed": len(class_ids),
                "NumberOfErrors": failures,
            },
        )
        for item_id in state["queue_items"].values():
            store.update(item_id, {"Status": "Completed"})


def _write_coverage(org: Org, run: dict[str, Any], class_ids: dict[str, str | None]) -> None:
    store = org.store
    for coverage in run["coverage"]:
        class_id = coverage["id"] or org.apex_class_id(coverage["name"])
        if not class_id:
            continue
        uncovered = set(coverage["uncovered"])
        covered_lines = [line for line in coverage["lines"] if line not in uncovered]
        lines = {"coveredLines": covered_lines, "uncoveredLines": sorted(uncovered)}
        test = _covering_test(run["tests"], coverage["name"])
        store.insert(
            "ApexCodeCoverage",
            {
                "ApexTestClassId": class_ids.get(test["class_name"]),
                "TestMethodName": test["method"],
                "ApexClassOrTriggerId": class_id,
                "NumLinesCovered": len(covered_lines),
                "NumLinesUncovered": len(uncovered),
                "Coverage": lines,
            },
        )
        aggregate = {
            "ApexClassOrTriggerId": class_id,
            "NumLinesCovered": len(covered_lines),
            "NumLinesUncovered": len(uncovered),
            "Coverage": lines,
        }
        existing = [a for a in store.list("ApexCodeCoverageAggregate") if a.get("ApexClassOrTriggerId") == class_id]
        if existing:
            store.update(existing[0]["Id"], aggregate)
        else:
            store.insert("ApexCodeCoverageAggregate", aggregate)
    percent = _org_wide_percent(store)
    rows = store.list("ApexOrgWideCoverage")
    if rows:
        store.update(rows[0]["Id"], {"PercentCovered": percent})
    else:
        store.insert("ApexOrgWideCoverage", {"PercentCovered": percent})


def _org_wide_percent(store: Any) -> int:
    """Covered over total lines across every class's latest aggregate, as Salesforce reports org-wide coverage."""
    covered = total = 0
    for aggregate in store.list("ApexCodeCoverageAggregate"):
        covered += int(aggregate.get("NumLinesCovered") or 0)
        total += int(aggregate.get("NumLinesCovered") or 0) + int(aggregate.get("NumLinesUncovered") or 0)
    return round(100 * covered / total) if total else 0
