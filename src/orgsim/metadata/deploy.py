"""Deploys: a per-org queue of jobs that move Pending → InProgress → Succeeded/Failed/Canceled over time.

Salesforce semantics kept here:
* one deploy runs at a time per org; the others wait as Pending;
* with rollbackOnError (always, in production) any component failure, any test failure, or org-wide coverage under
  75% when tests run leaves the org unchanged; checkOnly (validation) never changes anything;
* a successful validation that ran tests can be quick-deployed (deployRecentValidation) for 10 days, as long as no
  other deploy changed the org since it finished;
* production refuses NoTestRun for Apex changes and runs local tests by default when Apex is deployed;
* deploying (or deleting) an Apex class with scheduled jobs pending fails with Salesforce's message unless the org
  allows it (scenario `settings.allow_deploy_with_pending_jobs`).

A job's outcome is computed when it starts (the org cannot change under it, since jobs run one at a time) and its
changes are applied when its duration has elapsed. Time is the org's clock, so tests can move it forward.
"""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from orgsim import apexsim
from orgsim.ids import new_id
from orgsim.metadata import store as md
from orgsim.metadata.package import Component, Package, read_zip
from orgsim.metadata.xml import NIL, SoapFault, boolean, text, texts
from orgsim.store import parse_datetime

log = logging.getLogger("orgsim.metadata")

DONE_STATUSES = ("Succeeded", "SucceededPartial", "Failed", "Canceled")
RUNNING_STATUSES = ("Pending", "InProgress", "Canceling")
TEST_LEVELS = ("NoTestRun", "RunSpecifiedTests", "RunLocalTests", "RunAllTestsInOrg")
QUICK_DEPLOY_WINDOW = timedelta(days=10)
REQUIRED_ORG_COVERAGE = 75
PENDING_JOB_STATUSES = ("Queued", "Holding", "Preparing", "Processing")
PENDING_JOBS_PROBLEM = "This schedulable class has jobs pending or in progress"
APEX_TYPES = ("ApexClass", "ApexTrigger")


@dataclass
class DeployOptions:
    check_only: bool = False
    ignore_warnings: bool = False
    rollback_on_error: bool = True
    test_level: str | None = None
    run_tests: list[str] = field(default_factory=list)
    purge_on_delete: bool = False
    single_package: bool = False
    allow_missing_files: bool = False
    auto_update_package: bool = False
    perform_retrieve: bool = False

    @classmethod
    def from_element(cls, element: ET.Element | None) -> DeployOptions:
        if element is None:
            return cls()
        test_level = text(element, "testLevel") or None
        if test_level is not None and test_level not in TEST_LEVELS:
            raise SoapFault(
                "sf:INVALID_OPERATION", f"INVALID_OPERATION: testLevel must be one of {', '.join(TEST_LEVELS)}"
            )
        if test_level is None and boolean(element, "runAllTests"):
            test_level = "RunAllTestsInOrg"
        return cls(
            check_only=boolean(element, "checkOnly"),
            ignore_warnings=boolean(element, "ignoreWarnings"),
            rollback_on_error=boolean(element, "rollbackOnError", True),
            test_level=test_level,
            run_tests=texts(element, "runTests"),
            purge_on_delete=boolean(element, "purgeOnDelete"),
            single_package=boolean(element, "singlePackage"),
            allow_missing_files=boolean(element, "allowMissingFiles"),
            auto_update_package=boolean(element, "autoUpdatePackage"),
            perform_retrieve=boolean(element, "performRetrieve"),
        )


# -- time helpers ---------------------------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _when(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None


def _duration(org: Any, row: Any) -> timedelta:
    durations = org.scenario.durations
    seconds = durations.validate_seconds if row["check_only"] else durations.deploy_seconds
    return timedelta(seconds=float(seconds))


def _is_production(org: Any) -> bool:
    return not org.scenario.org.sandbox


# -- submitting -----------------------------------------------------------------------------------------------------


def submit(org: Any, zip_bytes: bytes, options: DeployOptions) -> str:
    """Queue a deploy; returns its 0Af id. Raises SoapFault for a zip Salesforce would reject outright."""
    read_zip(zip_bytes)  # reject unreadable zips now, like the real API does before queueing
    if options.test_level == "RunSpecifiedTests" and not options.run_tests:
        raise SoapFault(
            "sf:INVALID_OPERATION", "INVALID_OPERATION: runTests must be specified when testLevel is RunSpecifiedTests"
        )
    return _insert_job(org, zip_bytes, options, validation_id=None)


def _insert_job(org: Any, zip_bytes: bytes, options: DeployOptions, validation_id: str | None) -> str:
    md.ensure_tables(org)
    job_id = new_id("0Af")
    with org.store.transaction() as conn:
        conn.execute(
            "INSERT INTO md_deploys (id, status, check_only, options, zip, validation_id, created) "
            "VALUES (?, 'Pending', ?, ?, ?, ?, ?)",
            (job_id, int(options.check_only), json.dumps(asdict(options)), zip_bytes, validation_id, _iso(org.now())),
        )
    advance(org)
    return job_id


def _row(org: Any, job_id: str) -> Any:
    md.ensure_tables(org)
    if not job_id or len(job_id) not in (15, 18):
        return None
    return org.store.conn.execute("SELECT * FROM md_deploys WHERE substr(id, 1, 15) = ?", (job_id[:15],)).fetchone()


def quick_deploy_refusal(org: Any, validation_id: str) -> str | None:
    """Why `validation_id` cannot be quick-deployed now, or None when it can."""
    row = _row(org, validation_id)
    if row is None or not row["check_only"]:
        return "invalid validation id"
    if row["status"] != "Succeeded":
        return f"the validation {row['status'].lower()}" if row["status"] in DONE_STATUSES else "validation not done"
    outcome = json.loads(row["outcome"] or "{}")
    if not outcome.get("tests_ran"):
        return "the validation did not run Apex tests"
    completed = _when(row["completed"])
    if completed is None or org.now() - completed > QUICK_DEPLOY_WINDOW:
        return "the validation is older than 10 days"
    later = org.store.conn.execute(
        "SELECT id FROM md_deploys WHERE check_only = 0 AND ((status IN ('Succeeded', 'SucceededPartial') AND "
        "completed > ?) OR (status IN ('Pending', 'InProgress') AND validation_id = ?)) LIMIT 1",
        (row["completed"], row["id"]),
    ).fetchone()
    if later is not None:
        return f"the org changed since the validation (deploy {later['id']})"
    return None


def submit_quick(org: Any, validation_id: str) -> str:
    advance(org)
    refusal = quick_deploy_refusal(org, validation_id)
    if refusal is not None:
        raise SoapFault("sf:INVALID_ID_FIELD", f"INVALID_ID_FIELD: {refusal}: {validation_id}")
    row = _row(org, validation_id)
    options = DeployOptions(**json.loads(row["options"]))
    options.check_only = False
    return _insert_job(org, bytes(row["zip"]), options, validation_id=row["id"])


def cancel(org: Any, job_id: str) -> dict[str, Any]:
    advance(org)
    row = _row(org, job_id)
    if row is None:
        raise SoapFault("sf:INVALID_ID_FIELD", f"INVALID_ID_FIELD: Invalid deploy id: {job_id}")
    if row["status"] in ("Succeeded", "SucceededPartial", "Failed"):
        raise SoapFault(
            "sf:INVALID_ID_FIELD", f"INVALID_ID_FIELD: The deployment has already completed ({row['status']}): {job_id}"
        )
    if row["status"] != "Canceled":
        with org.store.transaction() as conn:
            conn.execute(
                "UPDATE md_deploys SET status = 'Canceled', completed = ?, canceled_by = ? WHERE id = ?",
                (_iso(org.now()), org.user_id, row["id"]),
            )
        advance(org)
    return {"done": True, "id": row["id"]}


# -- the queue ------------------------------------------------------------------------------------------------------


def advance(org: Any) -> None:
    """Bring every deploy job of the org up to date with the org clock."""
    md.ensure_tables(org)
    now = org.now()
    with org.store.transaction() as conn:
        # Jobs run back to back: a job cannot start before the previous one ended (or was canceled).
        last = conn.execute(
            "SELECT MAX(completed) FROM md_deploys WHERE status NOT IN ('Pending', 'InProgress')"
        ).fetchone()[0]
        previous_end: datetime | None = _when(last)
        for row in conn.execute(
            "SELECT * FROM md_deploys WHERE status IN ('Pending', 'InProgress') ORDER BY seq"
        ).fetchall():
            row_status = row["status"]
            if row_status == "Pending":
                if org.scenario.faults.deploy_stuck_in_queue:
                    return  # stuck: it and everything behind it waits until someone cancels it
                start = max(_when(row["created"]), previous_end) if previous_end else _when(row["created"])
                start = min(start, now)
                try:
                    outcome = _plan(org, row)
                except Exception:
                    log.exception("orgsim could not plan deploy %s", row["id"])
                    outcome = _internal_error_outcome()
                conn.execute(
                    "UPDATE md_deploys SET status = 'InProgress', started = ?, outcome = ? WHERE id = ?",
                    (_iso(start), _dumps(outcome), row["id"]),
                )
                row = conn.execute("SELECT * FROM md_deploys WHERE id = ?", (row["id"],)).fetchone()
            end = _when(row["started"]) + _duration(org, row)
            if end > now:
                return  # still running; later jobs keep waiting
            _finish(org, row, end)
            previous_end = end


def _internal_error_outcome() -> dict[str, Any]:
    return {
        "status": "Failed",
        "errorMessage": "UNKNOWN_EXCEPTION: orgsim internal error while processing the deploy (see the orgsim log)",
        "errorStatusCode": "UNKNOWN_EXCEPTION",
        "componentSuccesses": [],
        "componentFailures": [],
        "runTestResult": None,
        "tests_ran": False,
        "test_level": None,
        "numberComponentsTotal": 0,
        "numberComponentErrors": 0,
        "numberTestsTotal": 0,
        "numberTestErrors": 0,
        "apply": {"upserts": [], "deletes_pre": [], "deletes_post": []},
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, default=lambda _: None)  # NIL markers are stored as null


def _finish(org: Any, row: Any, end: datetime) -> None:
    outcome = json.loads(row["outcome"])
    applied = False
    if outcome["status"] in ("Succeeded", "SucceededPartial") and not row["check_only"]:
        _apply(org, row, outcome, _iso(end))
        applied = True
    org.store.conn.execute(
        "UPDATE md_deploys SET status = ?, completed = ?, outcome = ? WHERE id = ?",
        (outcome["status"], _iso(end), _dumps(outcome), row["id"]),
    )
    if applied:
        _after_success(org, row, outcome, end)


def _after_success(org: Any, row: Any, outcome: dict[str, Any], end: datetime) -> None:
    if org.scenario.faults.abort_scheduled_jobs_on_deploy:
        # The drill: after the deploy the app's scheduled jobs are gone. "The app's jobs" are the ones the scenario
        # seeded (not all of them start with "Elaro") plus any other job named Elaro*.
        for job in org.scenario.scheduled_jobs:
            trigger = org.scheduled_job_named(job.name)
            if trigger is not None:
                org.abort_job(trigger["Id"])
        org.abort_scheduled_jobs("Elaro")
    hook = getattr(org, "after_deploy", None)
    if hook is not None:
        hook(
            {
                "id": row["id"],
                "validation_id": row["validation_id"],
                "status": outcome["status"],
                "completed": _iso(end),
                "upserted": outcome["apply"]["upserts"],
                "deleted": outcome["apply"]["deletes_pre"] + outcome["apply"]["deletes_post"],
                "test_level": outcome.get("test_level"),
            }
        )


def _apply(org: Any, row: Any, outcome: dict[str, Any], now_text: str) -> None:
    package = read_zip(bytes(row["zip"]))
    plan = outcome["apply"]
    for type_name, full_name in plan["deletes_pre"]:
        md.delete_component(org, type_name, full_name)
    for type_name, full_name in plan["upserts"]:
        component = package.component(type_name, full_name)
        if component is not None:
            md.save_component(org, component, now_text)
    for type_name, full_name in plan["deletes_post"]:
        md.delete_component(org, type_name, full_name)


# -- planning: what the deploy would do and whether it succeeds ----------------------------------------------------


def _message(
    component_type: str,
    file_name: str,
    full_name: str,
    *,
    created_date: str,
    success: bool = True,
    changed: bool = False,
    created: bool = False,
    deleted: bool = False,
    component_id: str | None = None,
    problem: str | None = None,
    problem_type: str | None = None,
    line: int | None = None,
    column: int | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "changed": changed,
        "columnNumber": column,
        "componentType": component_type,
        "created": created,
        "createdDate": created_date,
        "deleted": deleted,
        "fileName": file_name,
        "fullName": full_name,
        "id": component_id,
        "lineNumber": line,
        "problem": problem,
        "problemType": problem_type,
        "success": success,
    }
    return message


def _scheduled_classes(org: Any) -> set[str]:
    """15-character ids of Apex classes with scheduled jobs pending or in progress."""
    ids = set()
    for job in org.store.list("AsyncApexJob"):
        if (
            job.get("JobType") == "ScheduledApex"
            and job.get("Status") in PENDING_JOB_STATUSES
            and job.get("ApexClassId")
        ):
            ids.add(str(job["ApexClassId"])[:15])
    return ids


def _brace_problem(source: str) -> tuple[str, int] | None:
    """A compile error for unbalanced braces (the one syntax check orgsim makes), with its line."""
    code = apexsim.blank_comments_and_strings(source)
    depth = 0
    line = 1
    for ch in code:
        if ch == "\n":
            line += 1
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                return "Unexpected token '}'.", line
    if depth > 0:
        return "Missing '}' at '<EOF>'", line
    return None


def _selected_components(package: Package, options: DeployOptions) -> tuple[list[Component], list[dict[str, str]]]:
    """Components package.xml names (wildcards included) and the names it lists that the zip lacks."""
    selected: list[Component] = []
    missing: list[dict[str, str]] = []
    for type_name, members in package.manifest.types.items():
        in_zip = [c for c in package.components if c.type == type_name]
        if "*" in members:
            selected.extend(in_zip)
        for member in members:
            if member == "*":
                continue
            found = next((c for c in in_zip if c.full_name == member), None)
            if found is not None:
                if found not in selected:
                    selected.append(found)
            elif not options.allow_missing_files and type_name not in (
                "CustomField",
                "ListView",
                "RecordType",
                "ValidationRule",
                "WebLink",
                "CompactLayout",
                "FieldSet",
                "BusinessProcess",
            ):
                # Child types (fields, list views, ...) travel inside their parent's file in metadata format.
                missing.append({"type": type_name, "name": member})
    return selected, missing


def _plan(org: Any, row: Any) -> dict[str, Any]:
    options = DeployOptions(**json.loads(row["options"]))
    created = row["created"]
    package = read_zip(bytes(row["zip"]))
    prefix = package.prefix
    successes: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    upserts: list[list[str]] = []
    deletes_pre: list[list[str]] = []
    deletes_post: list[list[str]] = []
    blocked_ids = set() if org.scenario.settings.allow_deploy_with_pending_jobs else _scheduled_classes(org)
    injected = {(f.type, f.name.lower()): f for f in org.scenario.faults.component_failures}

    selected, missing = _selected_components(package, options)
    for item in missing:
        failures.append(
            _message(
                item["type"],
                f"{prefix}package.xml",
                item["name"],
                created_date=created,
                success=False,
                problem_type="Error",
                problem=f"An object '{item['name']}' of type {item['type']} was named in package.xml,"
                " but was not found in zipped directory",
            )
        )

    for component in selected:
        file_name = prefix + component.main_file
        existing = md.get_component(org, component.type, component.full_name)
        problem: tuple[str, int | None, int | None] | None = None
        fault = injected.get((component.type, component.full_name.lower()))
        if fault is not None:
            problem = (fault.problem, fault.line, fault.column)
        elif component.type in APEX_TYPES:
            source = component.files.get(component.main_file, b"").decode("utf-8", errors="replace")
            braces = _brace_problem(source)
            if braces is not None:
                problem = (braces[0], braces[1], 1)
        if problem is None and existing is not None and existing.id[:15] in blocked_ids:
            problem = (PENDING_JOBS_PROBLEM, None, None)
        if problem is not None:
            failures.append(
                _message(
                    component.type,
                    file_name,
                    component.full_name,
                    created_date=created,
                    success=False,
                    problem=problem[0],
                    problem_type="Error",
                    line=problem[1],
                    column=problem[2],
                    component_id=existing.id if existing else None,
                )
            )
            continue
        changed = existing is None or md.component_files(org, component.type, existing.full_name) != component.files
        successes.append(
            _message(
                component.type,
                file_name,
                component.full_name,
                created_date=created,
                changed=changed,
                created=existing is None,
                component_id=existing.id if existing else None,
            )
        )
        upserts.append([component.type, component.full_name])

    for manifest_name, manifest in package.destructive.items():
        target = deletes_pre if manifest_name == "destructiveChangesPre.xml" else deletes_post
        for type_name, full_name in manifest.members():
            existing = md.get_component(org, type_name, full_name)
            being_added = any(t == type_name and n.lower() == full_name.lower() for t, n in upserts)
            if existing is None and not (being_added and target is deletes_post):
                warning = _message(
                    type_name,
                    f"{prefix}{manifest_name}",
                    full_name,
                    created_date=created,
                    success=options.ignore_warnings,
                    problem_type="Warning",
                    problem=f"No {type_name} named: {full_name} found",
                )
                (successes if options.ignore_warnings else failures).append(warning)
                continue
            if existing is not None and existing.id[:15] in blocked_ids:
                failures.append(
                    _message(
                        type_name,
                        f"{prefix}{manifest_name}",
                        full_name,
                        created_date=created,
                        success=False,
                        problem=PENDING_JOBS_PROBLEM,
                        problem_type="Error",
                        component_id=existing.id,
                    )
                )
                continue
            successes.append(
                _message(
                    type_name,
                    f"{prefix}{manifest_name}",
                    full_name,
                    created_date=created,
                    changed=True,
                    deleted=True,
                    component_id=existing.id if existing else None,
                )
            )
            target.append([type_name, existing.full_name if existing else full_name])

    successes.insert(0, _message("", f"{prefix}package.xml", "package.xml", created_date=created, changed=True))
    errors = [f for f in failures if f["problemType"] == "Error" or not options.ignore_warnings]
    outcome: dict[str, Any] = {
        "status": "Succeeded",
        "errorMessage": None,
        "errorStatusCode": None,
        "componentSuccesses": successes,
        "componentFailures": failures,
        "runTestResult": None,
        "tests_ran": False,
        "test_level": None,
        "numberComponentsTotal": len(selected)
        + len(missing)
        + sum(len(m.members()) for m in package.destructive.values()),
        "numberComponentErrors": len(errors),
        "numberTestsTotal": 0,
        "numberTestErrors": 0,
        "apply": {"upserts": upserts, "deletes_pre": deletes_pre, "deletes_post": deletes_post},
    }

    touches_apex = any(t in APEX_TYPES for t, _ in upserts + deletes_pre + deletes_post) or any(
        c.type in APEX_TYPES for c in selected
    )
    level = options.test_level
    if row["validation_id"]:
        level = "NoTestRun"  # a quick deploy reuses the validation's test results
        validation = _row(org, row["validation_id"])
        validated = json.loads(validation["outcome"] or "{}") if validation is not None else {}
        outcome["runTestResult"] = validated.get("runTestResult")
        outcome["numberTestsTotal"] = validated.get("numberTestsTotal", 0)
        outcome["tests_ran"] = validated.get("tests_ran", False)
        outcome["test_level"] = validated.get("test_level")
    elif level is None:
        level = "RunLocalTests" if _is_production(org) and touches_apex else "NoTestRun"
    elif level == "NoTestRun" and _is_production(org) and touches_apex:
        outcome.update(
            status="Failed",
            errorStatusCode="INVALID_OPERATION",
            errorMessage="INVALID_OPERATION: testLevel of NoTestRun cannot be used in production organizations",
        )
        return outcome

    if errors:
        if options.rollback_on_error or not upserts:
            outcome["status"] = "Failed"
            return outcome
        outcome["status"] = "SucceededPartial"

    if row["validation_id"] or level == "NoTestRun":
        return outcome

    sources = _sources_after(org, package, upserts, deletes_pre + deletes_post)
    try:
        run = apexsim.simulate(sources, org.scenario, level=level, tests=options.run_tests)
    except apexsim.UnknownTestError as error:
        outcome.update(status="Failed", errorStatusCode="INVALID_INPUT", errorMessage=str(error))
        return outcome
    warnings = _coverage_warnings(run, level, upserts)
    outcome["runTestResult"] = run_test_result(run, warnings)
    outcome["tests_ran"] = True
    outcome["test_level"] = level
    outcome["numberTestsTotal"] = run.num_tests
    outcome["numberTestErrors"] = len(run.failures)
    if run.failures or warnings:
        outcome["status"] = "Failed"
    return outcome


def _sources_after(
    org: Any, package: Package, upserts: list[list[str]], deletes: list[list[str]]
) -> list[apexsim.ApexSource]:
    """The org's Apex as it would be once this deploy is applied (tests run against that)."""
    by_key = {(("ApexClass" if s.kind == "Class" else "ApexTrigger"), s.name.lower()): s for s in md.apex_sources(org)}
    for type_name, full_name in deletes:
        by_key.pop((type_name, full_name.lower()), None)
    for type_name, full_name in upserts:
        if type_name not in APEX_TYPES:
            continue
        component = package.component(type_name, full_name)
        if component is None:
            continue
        existing = by_key.get((type_name, full_name.lower()))
        body = component.files.get(component.main_file, b"").decode("utf-8", errors="replace")
        kind = "Class" if type_name == "ApexClass" else "Trigger"
        by_key[(type_name, full_name.lower())] = apexsim.ApexSource(
            full_name, body, kind, existing.id if existing else new_id("01p" if kind == "Class" else "01q")
        )
    return list(by_key.values())


def _coverage_warnings(run: apexsim.SimulatedRun, level: str, upserts: list[list[str]]) -> list[dict[str, Any]]:
    warnings: list[dict[str, Any]] = []
    if level in ("RunLocalTests", "RunAllTestsInOrg"):
        pct = run.org_wide_percent
        if pct < REQUIRED_ORG_COVERAGE:
            warnings.append(
                {
                    "id": "",
                    "message": f"Average test coverage across all Apex Classes and Triggers is "
                    f"{int(pct)}%, at least {REQUIRED_ORG_COVERAGE}% test coverage is required.",
                    "name": NIL,
                    "namespace": NIL,
                }
            )
        for cov in run.coverage:
            if cov.kind == "Trigger" and cov.num_locations and cov.percent == 0:
                warnings.append(
                    {
                        "id": cov.id,
                        "message": "Test coverage of selected Apex Trigger is 0%, at least 1% "
                        "test coverage is required",
                        "name": cov.name,
                        "namespace": NIL,
                    }
                )
    elif level == "RunSpecifiedTests":
        deployed = {n.lower() for t, n in upserts if t in APEX_TYPES}
        measured = {c.name.lower(): c for c in run.coverage}
        for name in sorted(deployed):
            cov = measured.get(name)
            pct = cov.percent if cov is not None else 0.0
            if cov is not None and not cov.lines:
                continue
            if pct < REQUIRED_ORG_COVERAGE:
                kind = "Apex Trigger" if cov is not None and cov.kind == "Trigger" else "Apex Class"
                warnings.append(
                    {
                        "id": cov.id if cov else "",
                        "message": f"Test coverage of selected {kind} is "
                        f"{int(pct)}%, at least {REQUIRED_ORG_COVERAGE}% test coverage is required",
                        "name": cov.name if cov else name,
                        "namespace": NIL,
                    }
                )
    return warnings


def run_test_result(run: apexsim.SimulatedRun, warnings: list[dict[str, Any]]) -> dict[str, Any]:
    """A Metadata API RunTestsResult for a simulated run."""
    return {
        "codeCoverage": [
            {
                "id": cov.id,
                "locationsNotCovered": [
                    {"column": 0, "line": line, "numExecutions": 0, "time": -1.0} for line in cov.uncovered
                ],
                "name": cov.name,
                "namespace": NIL,
                "numLocations": cov.num_locations,
                "numLocationsNotCovered": cov.num_not_covered,
                "type": cov.kind,
            }
            for cov in run.coverage
        ],
        "codeCoverageWarnings": warnings,
        "failures": [
            {
                "id": t.class_id,
                "message": t.message,
                "methodName": t.method,
                "name": t.class_name,
                "namespace": NIL,
                "packageName": t.class_name,
                "stackTrace": t.stack_trace,
                "time": float(t.run_time_ms),
                "type": "Class",
            }
            for t in run.failures
        ],
        "numFailures": len(run.failures),
        "numTestsRun": run.num_tests,
        "successes": [
            {
                "id": t.class_id,
                "methodName": t.method,
                "name": t.class_name,
                "namespace": NIL,
                "time": float(t.run_time_ms),
            }
            for t in run.successes
        ],
        "totalTime": float(run.total_time_ms),
    }


# -- status ---------------------------------------------------------------------------------------------------------


def status(org: Any, job_id: str, include_details: bool = True) -> dict[str, Any]:
    """The DeployResult of a job as checkDeployStatus returns it."""
    advance(org)
    row = _row(org, job_id)
    if row is None:
        raise SoapFault("sf:INVALID_ID_FIELD", f"INVALID_ID_FIELD: Invalid id: {job_id}")
    options = DeployOptions(**json.loads(row["options"]))
    outcome = json.loads(row["outcome"]) if row["outcome"] else None
    state = row["status"]
    done = state in DONE_STATUSES
    components_total = outcome["numberComponentsTotal"] if outcome else 0
    tests_total = outcome["numberTestsTotal"] if outcome else 0
    deployed = errors = tests_done = test_errors = 0
    state_detail = None
    if outcome and state == "InProgress":
        elapsed = (org.now() - _when(row["started"])).total_seconds()
        total = max(_duration(org, row).total_seconds(), 0.001)
        fraction = min(1.0, max(0.0, elapsed / total))
        # Components deploy in the first half of the time, tests run in the second half.
        deployed = min(components_total - outcome["numberComponentErrors"], int(components_total * fraction * 2))
        tests_done = int(tests_total * max(0.0, fraction * 2 - 1))
        state_detail = "Running Test" if fraction >= 0.5 and tests_total else "Processing Type: ApexClass"
    elif outcome and done:
        errors = outcome["numberComponentErrors"]
        # A deploy refused as a whole (errorMessage) or canceled deployed nothing; otherwise what compiled counts.
        deployed = 0 if state == "Canceled" or outcome.get("errorMessage") else components_total - errors
        tests_done = tests_total
        test_errors = outcome["numberTestErrors"]
    success = state in ("Succeeded", "SucceededPartial")
    result: dict[str, Any] = {
        "canceledBy": row["canceled_by"] or None,
        "canceledByName": org.scenario.org.user_name if row["canceled_by"] else None,
        "checkOnly": bool(row["check_only"]),
        "completedDate": row["completed"] if done else None,
        "createdBy": org.user_id[:15],
        "createdByName": org.scenario.org.user_name,
        "createdDate": row["created"],
        "details": None,
        "done": done,
        "errorMessage": outcome.get("errorMessage") if outcome and done else None,
        "errorStatusCode": outcome.get("errorStatusCode") if outcome and done else None,
        "id": row["id"],
        "ignoreWarnings": options.ignore_warnings,
        "lastModifiedDate": row["completed"] or row["started"] or row["created"],
        "numberComponentErrors": errors,
        "numberComponentsDeployed": deployed,
        "numberComponentsTotal": components_total,
        "numberTestErrors": test_errors,
        "numberTestsCompleted": tests_done - test_errors if done else tests_done,
        "numberTestsTotal": tests_total,
        "rollbackOnError": options.rollback_on_error,
        "runTestsEnabled": bool(outcome and outcome.get("tests_ran")),
        "startDate": row["started"],
        "stateDetail": state_detail,
        "status": state,
        "success": success,
    }
    if include_details:
        details: dict[str, Any] = {"componentFailures": [], "componentSuccesses": []}
        if outcome and done and state != "Canceled":
            details["componentSuccesses"] = [_strip(m) for m in outcome["componentSuccesses"]]
            details["componentFailures"] = [_strip(m) for m in outcome["componentFailures"]]
            if outcome.get("runTestResult"):
                details["runTestResult"] = _restore_nil(outcome["runTestResult"])
        result["details"] = details
    return result


def _strip(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if v is not None}


def _restore_nil(value: Any) -> Any:
    """NIL markers become JSON null in the stored outcome; put them back for the XML writer."""
    if isinstance(value, dict):
        return {k: (NIL if v is None and k in ("namespace", "name") else _restore_nil(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore_nil(v) for v in value]
    return value


def list_jobs(org: Any) -> list[dict[str, Any]]:
    """Every deploy job, oldest first (for tests and the control plane)."""
    advance(org)
    rows = org.store.conn.execute(
        "SELECT id, status, check_only, validation_id, created, started, completed FROM md_deploys ORDER BY seq"
    ).fetchall()
    return [dict(row) for row in rows]
