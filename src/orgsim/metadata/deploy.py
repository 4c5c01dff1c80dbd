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
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from orgsim import timing
from orgsim.ids import new_id
from orgsim.metadata import store as md
from orgsim.metadata.package import read_zip
from orgsim.metadata.plan import APEX_TYPES as APEX_TYPES  # re-exported for callers of this module
from orgsim.metadata.plan import PENDING_JOBS_PROBLEM as PENDING_JOBS_PROBLEM
from orgsim.metadata.plan import RELEVANT_TESTS_API, DeployOptions, plan_deploy
from orgsim.metadata.plan import REQUIRED_ORG_COVERAGE as REQUIRED_ORG_COVERAGE
from orgsim.metadata.plan import TEST_LEVELS as TEST_LEVELS
from orgsim.metadata.select import select
from orgsim.metadata.xml import NIL, SoapFault
from orgsim.store import parse_datetime

log = logging.getLogger("orgsim.metadata")

DONE_STATUSES = ("Succeeded", "SucceededPartial", "Failed", "Canceled")
RUNNING_STATUSES = ("Pending", "InProgress", "Canceling")
QUICK_DEPLOY_WINDOW = timedelta(days=10)


# -- time helpers ---------------------------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _when(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None


def _timing(org: Any, row: Any, outcome: dict[str, Any] | None = None) -> timing.DeployTiming:
    """The job's schedule, fixed when it started (stored with its outcome); see orgsim.timing."""
    if outcome is None:
        outcome = json.loads(row["outcome"]) if row["outcome"] else {}
    if outcome.get("timing"):
        return timing.DeployTiming.from_json(outcome["timing"])
    return timing.deploy_timing(
        org.scenario.durations, check_only=bool(row["check_only"]), components=outcome.get("numberComponentsTotal", 0)
    )


def _duration(org: Any, row: Any) -> timedelta:
    return timedelta(seconds=_timing(org, row).total)


def _schedule(org: Any, row: Any, outcome: dict[str, Any]) -> None:
    """Fix the job's timing from what it does: components deployed and, unless it is a quick deploy, tests run."""
    test_classes = [] if row["validation_id"] else outcome.get("test_class_methods") or []
    outcome["timing"] = timing.deploy_timing(
        org.scenario.durations,
        check_only=bool(row["check_only"]),
        components=int(outcome.get("numberComponentsTotal") or 0),
        test_class_methods=test_classes,
    ).to_json()


# -- submitting -----------------------------------------------------------------------------------------------------


def submit(org: Any, zip_bytes: bytes, options: DeployOptions) -> str:
    """Queue a deploy; returns its 0Af id. Raises SoapFault for a zip Salesforce would reject outright."""
    read_zip(zip_bytes)  # reject unreadable zips now, like the real API does before queueing
    if options.test_level == "RunSpecifiedTests" and not options.run_tests:
        raise SoapFault(
            "sf:INVALID_OPERATION", "INVALID_OPERATION: runTests must be specified when testLevel is RunSpecifiedTests"
        )
    if options.test_level == "RunRelevantTests" and float(org.scenario.org.api_version) < RELEVANT_TESTS_API:
        raise SoapFault(
            "sf:INVALID_OPERATION",
            "INVALID_OPERATION: testLevel RunRelevantTests needs API version 66.0 or later "
            f"(this org's is {org.scenario.org.api_version})",
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
                    validation = _row(org, row["validation_id"]) if row["validation_id"] else None
                    validated = json.loads(validation["outcome"] or "{}") if validation is not None else None
                    outcome = plan_deploy(org, row, validated)
                except Exception:
                    log.exception("orgsim could not plan deploy %s", row["id"])
                    outcome = _internal_error_outcome()
                _schedule(org, row, outcome)
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
    selection = select(package)
    plan = outcome["apply"]
    for type_name, full_name in plan["deletes_pre"]:
        md.delete_any(org, type_name, full_name)
    wanted = {(t, n) for t, n in plan["upserts"]}
    for component in selection.components:
        if (component.type, component.full_name) in wanted:
            md.upsert_component(org, component, now_text)
    parents: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for ref in selection.children:
        if (ref.type, ref.name) in wanted and selection.component(ref.parent_type, ref.parent) is None:
            parents.setdefault((ref.parent_type, ref.parent), set()).add((ref.element, ref.key))
    for (parent_type, parent), names in sorted(parents.items()):
        path, content = selection.parent_files[(parent_type, parent)]
        md.upsert_children(org, parent_type, parent, path, content, names, now_text)
    for type_name, full_name in plan["deletes_post"]:
        md.delete_any(org, type_name, full_name)


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
        # Components deploy first, then the test classes run (in waves; see orgsim.timing).
        deployed, tests_done, testing = _timing(org, row, outcome).progress(elapsed, components_total, tests_total)
        deployed = min(components_total - outcome["numberComponentErrors"], deployed)
        state_detail = "Running Test" if testing and tests_total else "Processing Type: ApexClass"
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
