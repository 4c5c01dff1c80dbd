"""Planning a deploy: which components succeed or fail, which tests run, and whether the deploy succeeds.

`plan_deploy` looks at the zip and the org as it is when the deploy starts and returns the outcome as plain data
(stored with the job); the queue in `deploy.py` applies it when the deploy's time is up.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from orgsim import apexsim, relevant
from orgsim.ids import new_id
from orgsim.metadata import children as kids
from orgsim.metadata import references
from orgsim.metadata import store as md
from orgsim.metadata import types as mdtypes
from orgsim.metadata.package import Package, read_zip
from orgsim.metadata.select import folder_member, select
from orgsim.metadata.xml import NIL, SoapFault, boolean, text, texts

TEST_LEVELS = ("NoTestRun", "RunSpecifiedTests", "RunLocalTests", "RunAllTestsInOrg", "RunRelevantTests")
RELEVANT_TESTS_API = 66.0  # RunRelevantTests exists from API 66.0
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


def is_production(org: Any) -> bool:
    return not org.scenario.org.sandbox


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


def unknown_type_problem(type_name: str) -> str:
    return f"Unknown type name '{type_name}' specified in package.xml"


def deletion_refusal(type_name: str, full_name: str) -> str | None:
    """Salesforce's error for a deletion it never allows: unknown types, standard objects and standard fields."""
    if not mdtypes.is_known(type_name):
        return unknown_type_problem(type_name)
    if type_name == "CustomObject" and not mdtypes.is_custom_name(full_name):
        return f"The CustomObject called '{full_name}' is standard and cannot be deleted"
    if type_name == "CustomField" and not mdtypes.is_custom_name(full_name):
        return f"The CustomField called '{full_name}' is standard and cannot be deleted"
    if type_name == "RecordType":
        return "Cannot delete record type through API"  # only deleting its object removes it
    return None


def _existing_for_delete(org: Any, type_name: str, full_name: str) -> md.StoredComponent | None:
    """The stored component a deletion removes: the component itself, or for a child its parent (when it holds it)."""
    ref = kids.child_ref(type_name, full_name)
    if ref is None:
        return md.get_component(org, type_name, full_name)
    parent = md.get_component(org, ref.parent_type, ref.parent)
    if parent is None:
        return None
    files = md.component_files(org, ref.parent_type, parent.full_name)
    return parent if any(kids.has_child(content, ref) for content in files.values()) else None


def _refusal(
    type_name: str, file_name: str, full_name: str, created: str, problem: str, component_id: str | None = None
) -> dict[str, Any]:
    return _message(
        type_name,
        file_name,
        full_name,
        created_date=created,
        success=False,
        problem=problem,
        problem_type="Error",
        component_id=component_id,
    )


def plan_deploy(org: Any, row: Any, validated: dict[str, Any] | None = None) -> dict[str, Any]:
    """The outcome of deploy job `row` (a quick deploy passes its validation's outcome as `validated`)."""
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

    selection = select(package)
    selected = selection.components
    missing = [] if options.allow_missing_files else selection.missing
    for type_name, member in selection.unknown:
        failures.append(_refusal(type_name, f"{prefix}package.xml", member, created, unknown_type_problem(type_name)))
    for type_name, member in missing:
        failures.append(
            _refusal(
                type_name,
                f"{prefix}package.xml",
                member,
                created,
                f"An object '{member}' of type {type_name} was named in package.xml, but was not found in zipped "
                "directory",
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

    for ref in selection.children:
        path, content = selection.parent_files[(ref.parent_type, ref.parent)]
        existing = md.get_component(org, ref.parent_type, ref.parent)
        if (
            existing is None
            and ref.parent_type == "CustomObject"
            and mdtypes.is_custom_name(ref.parent)
            and selection.component(ref.parent_type, ref.parent) is None
        ):
            # a field of a custom object neither the org nor the deploy has: the object file holds no label
            failures.append(
                _refusal(
                    ref.type, prefix + path, ref.name, created, "Must specify a non-empty label for the CustomObject"
                )
            )
            continue
        stored = md.component_files(org, ref.parent_type, existing.full_name).get(path) if existing else None
        created_child = stored is None or not kids.has_child(stored, ref)
        successes.append(
            _message(
                ref.type,
                prefix + path,
                ref.name,
                created_date=created,
                changed=created_child or stored != content,
                created=created_child,
                component_id=existing.id if existing else None,
            )
        )
        upserts.append([ref.type, ref.name])

    # The CLI lists an object's children next to the object it deletes; they go with it.
    deleted_objects = {
        n.lower()
        for m in package.destructive.values()
        for t, n in m.members()
        if t == "CustomObject" and mdtypes.is_custom_name(n)
    }
    for manifest_name, manifest in package.destructive.items():
        target = deletes_pre if manifest_name == "destructiveChangesPre.xml" else deletes_post
        for listed_type, listed_name in manifest.members():
            type_name, full_name = folder_member(listed_type, listed_name)
            file_name = f"{prefix}{manifest_name}"
            with_object = mdtypes.child(type_name) is not None and full_name.split(".")[0].lower() in deleted_objects
            refusal = None if with_object else deletion_refusal(type_name, full_name)
            if refusal is not None:
                failures.append(_refusal(type_name, file_name, full_name, created, refusal))
                continue
            existing = _existing_for_delete(org, type_name, full_name)
            being_added = any(t == type_name and n.lower() == full_name.lower() for t, n in upserts)
            if existing is None and not (being_added and target is deletes_post):
                warning = _message(
                    type_name,
                    file_name,
                    full_name,
                    created_date=created,
                    success=options.ignore_warnings,
                    problem_type="Warning",
                    problem=f"No {type_name} named: {full_name} found",
                )
                (successes if options.ignore_warnings else failures).append(warning)
                continue
            if existing is not None and existing.id[:15] in blocked_ids:
                failures.append(_refusal(type_name, file_name, full_name, created, PENDING_JOBS_PROBLEM, existing.id))
                continue
            successes.append(
                _message(
                    type_name,
                    file_name,
                    full_name,
                    created_date=created,
                    changed=True,
                    deleted=True,
                    component_id=existing.id if existing else None,
                )
            )
            target.append([type_name, full_name if mdtypes.child(type_name) or not existing else existing.full_name])

    _refuse_referenced_deletions(org, package, upserts, deletes_pre, deletes_post, successes, failures)
    if any(t in ("CustomObject", "CustomField") for t, _ in deletes_pre + deletes_post):
        before = _sources_after(org, package, [], deletes_pre)
        after = _sources_after(org, package, upserts, deletes_pre + deletes_post)
        references.refuse([(deletes_pre, before), (deletes_post, after)], successes, failures)
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
        + len(selection.children)
        + len(missing)
        + len(selection.unknown)
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
        validated = validated or {}
        outcome["runTestResult"] = validated.get("runTestResult")
        outcome["numberTestsTotal"] = validated.get("numberTestsTotal", 0)
        outcome["tests_ran"] = validated.get("tests_ran", False)
        outcome["test_level"] = validated.get("test_level")
    elif level is None:
        level = "RunLocalTests" if is_production(org) and touches_apex else "NoTestRun"
    elif level == "NoTestRun" and is_production(org) and touches_apex:
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
    relevant_classes = None
    if level == "RunRelevantTests":
        scope = _relevant_scope(upserts + deletes_pre + deletes_post, sources)
        relevant_classes = sorted(relevant.relevant_test_classes(sources, scope))
    try:
        run = apexsim.simulate(
            sources, org.scenario, level=level, class_names=relevant_classes, tests=options.run_tests
        )
    except apexsim.UnknownTestError as error:
        outcome.update(status="Failed", errorStatusCode="INVALID_INPUT", errorMessage=str(error))
        return outcome
    warnings = _coverage_warnings(run, level, upserts, sources)
    outcome["runTestResult"] = run_test_result(run, warnings)
    outcome["tests_ran"] = True
    outcome["test_level"] = level
    outcome["numberTestsTotal"] = run.num_tests
    outcome["numberTestErrors"] = len(run.failures)
    # methods per test class, in run order: the deploy's duration and progress follow it (orgsim.timing)
    outcome["test_class_methods"] = [sum(1 for t in run.tests if t.class_name == name) for name in run.test_class_names]
    if run.failures or warnings:
        outcome["status"] = "Failed"
    return outcome


def _refuse_referenced_deletions(
    org: Any,
    package: Package,
    upserts: list[list[str]],
    deletes_pre: list[list[str]],
    deletes_post: list[list[str]],
    successes: list[dict[str, Any]],
    failures: list[dict[str, Any]],
) -> None:
    """Salesforce refuses to delete an Apex class that Apex remaining in the org still mentions."""
    deleted_classes = {n.lower() for t, n in deletes_pre + deletes_post if t == "ApexClass"}
    if not deleted_classes:
        return
    remaining = _sources_after(org, package, upserts, deletes_pre + deletes_post)
    for source in remaining:
        code = apexsim.blank_comments_and_strings(source.body)
        for match in re.finditer(r"[A-Za-z_]\w*", code):
            name = match.group(0).lower()
            if name not in deleted_classes or name == source.name.lower():
                continue
            line = code.count("\n", 0, match.start()) + 1
            column = match.start() - (code.rfind("\n", 0, match.start()) + 1) + 1
            kind = "Class" if source.kind == "Class" else "Trigger"
            problem = (
                "This apex class is referenced elsewhere in salesforce.com. Remove the usage and try again.: "
                f"{kind}.{source.name}: line {line}, column {column}"
            )
            for target in (deletes_pre, deletes_post):
                target[:] = [d for d in target if not (d[0] == "ApexClass" and d[1].lower() == name)]
            for message in [m for m in successes if m["deleted"] and m["fullName"].lower() == name]:
                successes.remove(message)
                message.update(success=False, deleted=False, changed=False, problem=problem, problemType="Error")
                failures.append(message)
            deleted_classes.discard(name)


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


def percent_text(pct: float) -> str:
    """A percentage as Salesforce prints it in coverage warnings: up to 3 decimals, no trailing zeros (53.659, 0)."""
    return f"{pct:.3f}".rstrip("0").rstrip(".")


def _relevant_scope(touched: list[list[str]], sources: list[apexsim.ApexSource]) -> relevant.RelevantScope:
    """What a deploy touches, for RunRelevantTests: its Apex, and the objects of its objects, children, triggers."""
    apex = {n.lower() for t, n in touched if t in APEX_TYPES}
    objects = {n.lower() for t, n in touched if t == "CustomObject"}
    objects |= {n.split(".", 1)[0].lower() for t, n in touched if mdtypes.child(t) is not None and "." in n}
    triggers = {s.name.lower(): s for s in sources if s.kind == "Trigger"}
    for name in apex:
        if name in triggers:
            objects.add(apexsim.trigger_object(triggers[name].body) or "")
    objects.discard("")
    return relevant.RelevantScope(apex=frozenset(apex), objects=frozenset(objects))


def _coverage_warnings(
    run: apexsim.SimulatedRun, level: str, upserts: list[list[str]], sources: list[apexsim.ApexSource]
) -> list[dict[str, Any]]:
    test_classes = {s.name.lower() for s in sources if s.kind == "Class" and apexsim.is_test_class(s.body)}
    ids = {s.name.lower(): s.id for s in sources}
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
    elif level in ("RunSpecifiedTests", "RunRelevantTests"):
        # Salesforce: every Apex class and trigger in the deploy needs 75 % coverage from the tests that ran.
        # Test classes are not measured; code no test touched counts as 0 %.
        deployed = {n.lower(): (t, n) for t, n in upserts if t in APEX_TYPES and n.lower() not in test_classes}
        measured = {c.name.lower(): c for c in run.coverage}
        for name, (type_name, full_name) in sorted(deployed.items()):
            cov = measured.get(name)
            pct = cov.percent if cov is not None else 0.0
            if cov is not None and not cov.lines:
                continue
            if pct < REQUIRED_ORG_COVERAGE:
                kind = "Apex Trigger" if type_name == "ApexTrigger" else "Apex Class"
                warnings.append(
                    {
                        "id": cov.id if cov else ids.get(name, ""),
                        "message": f"Test coverage of selected {kind} is "
                        f"{percent_text(pct)}%, at least {REQUIRED_ORG_COVERAGE}% test coverage is required",
                        "name": cov.name if cov else full_name,
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
