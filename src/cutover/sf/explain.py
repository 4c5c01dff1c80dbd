"""Summaries of saved `sf ... --json` output, for `cutover explain` (and for reports that show a step's sf answer).

`explain_document(doc)` detects what the document is (deploy, validate, retrieve, apex test run, data query,
org limits, org display/list, or an error envelope of any of them) and returns a JSON-ready summary:

    {"kind", "status", "components": {total, deployed, failed, failures}, "tests": {run, failed, failures},
     "coverage": {org_wide_pct, classes: [{name, pct}]}, ...}

Keys that do not apply to a kind are left out (a deploy without tests has no "tests"; no coverage data, no
"coverage"). Numbers are rounded to two decimals.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cutover.redact import redact_obj
from cutover.sf.coerce import as_dict, as_exit_status, as_list
from cutover.sf.errors import job_id_from, one_line
from cutover.sf.results import (
    ClassCoverage,
    DeployResult,
    TestCase,
    coverage_pct,
    parse_deploy_result,
    parse_limits,
    parse_org_info,
    parse_org_list,
    parse_query_result,
    parse_retrieve_result,
    parse_test_run,
)

# Envelope `commandName`/`context` (the command class) -> the kind we report.
COMMAND_KINDS = {
    "DeployMetadata": "deploy",
    "DeployMetadataValidate": "validate",
    "DeployMetadataQuick": "quick",
    "DeployMetadataReport": "report",
    "DeployMetadataResume": "resume",
    "DeployMetadataCancel": "cancel",
    "RetrieveMetadata": "retrieve",
    "Test": "apex-test",
    "TestRun": "apex-test",
    "Run": "apex-run",
    "DataSoqlQueryCommand": "query",
    "DataQuery": "query",
    "LimitsApiDisplayCommand": "limits",
    "OrgListLimits": "limits",
    "OrgDisplayCommand": "org-display",
    "OrgListCommand": "org-list",
    "LoginAccessToken": "login",
}
QUERY_ROWS_SHOWN = 20


class NotExplainable(ValueError):
    """The JSON is valid but is not `sf --json` output this module recognises."""


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _coverage_block(classes: tuple[ClassCoverage, ...], org_wide: float | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"org_wide_pct": _pct(org_wide if org_wide is not None else coverage_pct(classes))}
    block["classes"] = [
        {"name": c.name, "pct": _pct(c.pct), "lines": c.num_locations, "covered": c.covered}
        for c in sorted(classes, key=lambda c: (c.pct, c.name))
    ]
    return block


def _test_failure(test: TestCase) -> dict[str, Any]:
    return {"name": test.full_name, "message": test.message, "stack_trace": test.stack_trace}


def _deploy_kind(result: DeployResult, hint: str | None) -> str:
    if hint in ("quick", "report", "resume", "cancel", "deploy", "validate"):
        return hint
    return "validate" if result.check_only else "deploy"


def explain_deploy(data: Any, *, kind_hint: str | None = None) -> dict[str, Any]:
    result = parse_deploy_result(data)
    failures = result.failures
    summary: dict[str, Any] = {"kind": _deploy_kind(result, kind_hint), "status": result.status or "Unknown"}
    if result.id:
        summary["id"] = result.id
    summary["check_only"] = result.check_only
    if result.state_detail:
        summary["state_detail"] = result.state_detail
    if result.error_message:
        summary["error_message"] = result.error_message
    # The package.xml row (componentType "") is not a component.
    successes = [c for c in result.component_successes if c.type]
    total = max(result.components_total, len(successes) + len(failures))
    if total or failures or result.components_deployed:
        summary["components"] = {
            "total": total,
            "deployed": result.components_deployed,
            "failed": max(result.component_errors, len(failures)),
            "failures": [
                {
                    "type": f.type,
                    "name": f.name,
                    "file": f.file or None,
                    "problem": f.problem,
                    "line": f.line,
                    "column": f.column,
                }
                for f in failures
            ],
        }
    tests = result.tests
    if tests is not None and (tests.num_run or tests.failures or result.run_tests_enabled):
        summary["tests"] = {
            "run": tests.num_run,
            "failed": tests.num_failures,
            "failures": [_test_failure(t) for t in tests.failures],
        }
    if result.coverage:
        summary["coverage"] = _coverage_block(result.coverage)
        if tests and tests.coverage_warnings:
            summary["coverage"]["warnings"] = list(tests.coverage_warnings)
    elif tests and tests.coverage_warnings:
        summary["coverage"] = {"org_wide_pct": None, "classes": [], "warnings": list(tests.coverage_warnings)}
    return summary


def explain_retrieve(data: Any) -> dict[str, Any]:
    result = parse_retrieve_result(data)
    failed_files = result.failed_files
    retrieved = [p for p in result.file_properties if p.type != "Package"]
    failures = [
        {"type": f.type, "name": f.full_name, "file": f.file_path, "problem": f.error, "line": f.line, "column": None}
        for f in failed_files
    ]
    if not failures:
        failures = [
            {"type": None, "name": None, "file": m.file_name, "problem": m.problem, "line": None, "column": None}
            for m in result.messages
        ]
    summary: dict[str, Any] = {"kind": "retrieve", "status": result.status or "Unknown"}
    if result.id:
        summary["id"] = result.id
    summary["components"] = {
        "total": len(retrieved) + len(failures),
        "retrieved": len(retrieved),
        "failed": len(failures),
        "failures": failures,
    }
    summary["files"] = len(result.files) - len(failed_files)
    if result.zip_file_path:
        summary["zip_file"] = result.zip_file_path
    return summary


def explain_test_run(data: Any) -> dict[str, Any]:
    run = parse_test_run(data)
    summary: dict[str, Any] = {
        "kind": "apex-test",
        "status": run.outcome or ("Completed" if run.completed else "Queued"),
    }
    if run.test_run_id:
        summary["id"] = run.test_run_id
    if not run.completed:
        return summary
    summary["tests"] = {
        "run": run.tests_ran,
        "passed": run.passing,
        "failed": run.failing,
        "skipped": run.skipped,
        "failures": [_test_failure(t) for t in run.failures],
    }
    if run.class_coverage or run.org_wide_coverage_pct is not None:
        summary["coverage"] = _coverage_block(run.class_coverage, run.org_wide_coverage_pct)
        if run.test_run_coverage_pct is not None:
            summary["coverage"]["test_run_pct"] = _pct(run.test_run_coverage_pct)
    return summary


def explain_query(data: Any) -> dict[str, Any]:
    result = parse_query_result(data)
    rows = [_flatten(row) for row in result.rows()]
    fields: list[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    return {
        "kind": "query",
        "status": "Succeeded" if result.done else "Partial",
        "total_size": result.total_size,
        "done": result.done,
        "fields": fields,
        "records": rows[:QUERY_ROWS_SHOWN],
    }


def _flatten(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Relationship fields as dotted columns (`CronJobDetail.Name`), like the CLI's human table."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and "records" not in value:
            flat.update(_flatten(value, prefix=name + "."))
        else:
            flat[name] = value
    return flat


def explain_limits(data: Any) -> dict[str, Any]:
    limits = sorted(parse_limits(data), key=lambda lim: (-lim.used_pct, lim.name))
    return {
        "kind": "limits",
        "status": "Succeeded",
        "limits": [
            {"name": x.name, "max": x.max, "remaining": x.remaining, "used": x.used, "used_pct": _pct(x.used_pct)}
            for x in limits
        ],
    }


def _org_dict(info: Any) -> dict[str, Any]:
    return {
        "id": info.org_id,
        "username": info.username,
        "instance_url": info.instance_url,
        "api_version": info.api_version,
        "alias": info.alias,
        "connected_status": info.connected_status,
    }


def explain_error(env: Mapping[str, Any]) -> dict[str, Any]:
    command = str(env.get("commandName") or env.get("context") or "")
    summary: dict[str, Any] = {
        "kind": COMMAND_KINDS.get(command, command or "error"),
        "status": "Error",
        "error": {
            "name": env.get("name"),
            "message": one_line(str(env.get("message") or ""), limit=2000),
            "exit_code": _exit_status(env),
        },
    }
    job_id = job_id_from(env.get("data"))
    if job_id:
        summary["id"] = job_id
    hint = _ERROR_HINTS.get(str(env.get("name")))
    if hint:
        summary["hint"] = hint.format(id=job_id or "<job id>")
    return summary


def _exit_status(env: Mapping[str, Any]) -> int:
    field = "exitCode" if "exitCode" in env else "status"
    status = as_exit_status(env.get(field), field)
    return 1 if status is None else status


_ERROR_HINTS = {
    "ClientTimeoutError": "the deploy is still running; follow it with: sf project deploy report --job-id {id} --json",
    "FailedValidationError": (
        "for the component and test details: sf project deploy report --job-id {id} --json > report.json, "
        "then cutover explain report.json"
    ),
    "NamedOrgNotFoundError": "no login for that alias in this HOME: sf org login ... --alias ALIAS",
    "INVALID_SESSION_ID": "the session expired or was revoked: log in to the org again",
}


def _looks_like_deploy(data: Mapping[str, Any]) -> bool:
    keys = ("numberComponentsTotal", "details", "checkOnly", "deployUrl", "numberComponentErrors", "deployResult")
    return any(k in data for k in keys) or str(data.get("id", "")).startswith("0Af")


def explain_document(doc: Any, *, kind_hint: str | None = None) -> dict[str, Any]:
    """Summarise one saved `sf --json` document (a full envelope, or just its `result`, or the evidence record cutover
    keeps of an sf call: `{argv, exit_code, envelope, ...}` under `.cutover/runs/`). Raises NotExplainable."""
    if isinstance(doc, Mapping) and "envelope" in doc and "argv" in doc and isinstance(doc["envelope"], Mapping):
        if kind_hint is None:
            kind_hint = _kind_from_argv(doc["argv"])
        doc = doc["envelope"]
    if isinstance(doc, Mapping) and "name" in doc and "result" not in doc and "message" in doc:
        return explain_error(doc)
    envelope = doc if isinstance(doc, Mapping) and "result" in doc else None
    data = envelope["result"] if envelope is not None else doc
    summary = _explain_result(data, kind_hint)
    if envelope is not None and "status" in envelope:
        summary["exit_code"] = as_exit_status(envelope.get("status"))
        warnings = [w for w in as_list(envelope.get("warnings")) if isinstance(w, str)]
        if warnings:
            summary["warnings"] = warnings
    return redact_obj(summary)


def _kind_from_argv(argv: Any) -> str | None:
    """'validate' / 'quick' / 'deploy' from a recorded `sf project deploy ...` command line; None for report/resume
    (the job they show is a validation or a deploy: the result's checkOnly says which)."""
    words = [str(w) for w in argv] if isinstance(argv, list | tuple) else str(argv).split()
    if "deploy" not in words or any(sub in words for sub in ("report", "resume", "cancel")):
        return None
    if "--dry-run" in words or "validate" in words:
        return "validate"
    return "quick" if "quick" in words else "deploy"


def _explain_result(data: Any, kind_hint: str | None) -> dict[str, Any]:
    if isinstance(data, list):
        if all(isinstance(x, Mapping) and "max" in x and "remaining" in x for x in data):
            return explain_limits(data)
        raise NotExplainable("a JSON list that is not an 'org list limits' result")
    if not isinstance(data, Mapping):
        raise NotExplainable("no JSON object in the document")
    if "summary" in data or ("testRunId" in data and len(data) <= 2) or "tests" in data:
        return explain_test_run(data)
    if "records" in data and "totalSize" in data:
        return explain_query(data)
    if "fileProperties" in data or str(data.get("id", "")).startswith("09S"):
        return explain_retrieve(data)
    if _looks_like_deploy(data) or data.get("status") == "Nothing to deploy":
        return explain_deploy(data, kind_hint=kind_hint)
    if data and all(isinstance(v, Mapping) and "Max" in v for v in data.values()):
        return explain_limits(data)  # a raw REST /limits body
    if any(k in data for k in ("other", "nonScratchOrgs", "scratchOrgs")):
        orgs = parse_org_list(data)
        return {"kind": "org-list", "status": "Succeeded", "orgs": [_org_dict(o) for o in orgs]}
    if "instanceUrl" in data and ("id" in data or "orgId" in data):
        info = parse_org_info(data)
        return {"kind": "org-display", "status": info.connected_status or "Succeeded", "org": _org_dict(info)}
    if "success" in data and "compiled" in data:
        ok = bool(data.get("success"))
        return {"kind": "apex-run", "status": "Succeeded" if ok else "Failed"}
    keys = ", ".join(sorted(as_dict(data))[:6])
    raise NotExplainable(f"unrecognised sf result (keys: {keys or 'none'})")


__all__ = ["COMMAND_KINDS", "NotExplainable", "explain_document"]
