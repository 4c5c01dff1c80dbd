"""Preflight on projects unlike Elaro: two package directories, no package.json, no Apex, no permission sets, no
CHANGELOG, a runbook that leaves most settings at their defaults. Every gate gives a sensible result or a skip with
its reason."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from cutover.checks.result import GateStatus
from cutover.checks.sample_repo import _git, commit_all, review_trailers
from cutover.runbook import load_runbook
from cutover.steps.preflight import run_preflight

INSIDE_WINDOW = datetime.fromisoformat("2026-11-27T19:00:00-05:00")  # the default window: Friday 18-22 New York
NS = 'xmlns="http://soap.sforce.com/2006/04/metadata"'
OBJECT = f'<?xml version="1.0" encoding="UTF-8"?>\n<CustomObject {NS}><label>Shipment</label></CustomObject>\n'
FIELD = f'<?xml version="1.0"?>\n<CustomField {NS}><fullName>Weight__c</fullName><type>Number</type></CustomField>\n'
PERMSET = f"""<?xml version="1.0" encoding="UTF-8"?>
<PermissionSet {NS}>
  <fieldPermissions><editable>true</editable><field>Shipment__c.Weight__c</field><readable>true</readable></fieldPermissions>
  <label>Ops</label>
  <objectPermissions><allowCreate>true</allowCreate><allowDelete>false</allowDelete><allowEdit>true</allowEdit>
    <allowRead>true</allowRead><modifyAllRecords>false</modifyAllRecords><object>Shipment__c</object>
    <viewAllRecords>false</viewAllRecords></objectPermissions>
</PermissionSet>
"""
CLASS = "public with sharing class ShipmentService {\n  public static Integer twice(Integer n) { return n * 2; }\n}\n"
RUNBOOK = """target:
  alias: production
release:
  version: 1.2.0
roles:
  deployment_lead: {title: Deployment Lead, name: Taylor Lead, email: taylor@example.com}
  developer: {title: Developer, name: Dana Developer, email: dana@example.com, phone: TBD}
  qa_lead: {title: QA Lead, name: Quinn QA, email: TBD, phone: "+1 555 0100"}
  security_reviewer: {title: Security Reviewer, name: Sam Secure, email: sam@example.com}
  customer_support: {title: Customer Support, name: Casey Support, email: support@example.com}
  engineering_manager: {title: Engineering Manager, name: Morgan Manager, email: morgan@example.com}
  security_lead: {title: Security Lead, name: Lee Lead, email: lee@example.com}
  cto: {title: CTO, name: Chris CTO, phone: "+1 555 0199", required: false}
  vp_engineering: {title: VP of Engineering, required: false}
"""


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _project(tmp_path: Path, *, apex: bool = True, permset: bool = True, runbook: str = RUNBOOK) -> Path:
    """Two package directories (core, extras), no package.json, no CHANGELOG; pushed to a bare origin."""
    project = tmp_path / "shipments"
    dirs = [{"path": "core", "default": True}, {"path": "extras"}]
    _write(project, "sfdx-project.json", json.dumps({"packageDirectories": dirs, "sourceApiVersion": "62.0"}))
    _write(project, "README.md", "# Shipments\n\nRelease 1.2.0.\n\n## Known Issues\n\nNone.\n")
    _write(project, "cutover.yaml", runbook)
    _write(project, ".gitignore", ".cutover/\n")
    objects = "core/main/default/objects/Shipment__c"
    _write(project, f"{objects}/Shipment__c.object-meta.xml", OBJECT)
    _write(project, f"{objects}/fields/Weight__c.field-meta.xml", FIELD)
    if permset:
        _write(project, "extras/main/default/permissionsets/Ops.permissionset-meta.xml", PERMSET)
    if apex:
        _write(project, "extras/main/default/classes/ShipmentService.cls", CLASS)
    _git(project, "init", "-q", "-b", "main")
    commit_all(project, "Shipments 1.2.0", trailers=review_trailers())
    origin = tmp_path / "origin.git"
    _git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    _git(project, "remote", "add", "origin", str(origin))
    _git(project, "push", "-q", "origin", "main")
    return project


def _gates(project: Path) -> dict[str, tuple[GateStatus, bool, str]]:
    report = run_preflight(project, load_runbook(project / "cutover.yaml"), at=INSIDE_WINDOW, jobs=2)
    return {g.id: (g.status, g.blocking, g.detail) for g in report.gates if not g.id.startswith("signoff.")}


def test_two_package_directories_without_package_json(tmp_path: Path):
    # The npm commands and README check of the Elaro runbook, written out (the generic defaults have neither).
    elaro_project = (
        "project:\n  commands: {test_all: npm run test:all, lint: npm run lint, fmt_check: npm run fmt:check, "
        "test_unit: npm run test:unit}\n"
        "  docs: {readme: README.md, readme_mentions_version: true, changelog: null}\n"
    )
    gates = _gates(_project(tmp_path, runbook=RUNBOOK + elaro_project))
    failed = {gate for gate, (status, _, _) in gates.items() if status == GateStatus.FAILED}
    # The npm commands fail before running, saying why and how to fix it; nothing else fails.
    assert failed == {"preflight.test-all", "preflight.lint", "preflight.fmt-check"}
    assert gates["preflight.test-all"][2] == (
        "`npm run test:all` runs a package.json script, but the project has no package.json; add one, "
        "or set project.commands.test_all to the command you use, or null to drop the gate"
    )
    # The permission set in `extras` grants what `core` adds: both package directories are read.
    assert gates["preflight.permission-sets"][0] == GateStatus.PASSED
    assert "1 new object(s) and 1 new field(s)" in gates["preflight.permission-sets"][2]
    # The Apex scan covers the package directories (the default scan path force-app does not exist).
    assert gates["preflight.apex-security"][:1] == (GateStatus.PASSED,)
    assert "no findings in 1 Apex file(s)" in gates["preflight.apex-security"][2]
    # No CHANGELOG.md and the runbook names none: not checked, not a failure.
    status, _, detail = gates["preflight.docs"]
    assert status == GateStatus.PASSED
    assert "README.md:3 mentions 1.2.0" in detail and "CHANGELOG" not in detail
    # No LWC: the LWC coverage gate is skipped with its reason and does not block.
    assert gates["preflight.lwc-coverage"] == (
        GateStatus.SKIPPED,
        False,
        "the project has no Lightning web components (no lwc/ folder)",
    )
    assert gates["preflight.apex-coverage"][:2] == (GateStatus.SKIPPED, False)
    assert gates["preflight.git"][0] == GateStatus.PASSED and gates["preflight.reviews"][0] == GateStatus.PASSED
    # `phone: TBD` next to an email, `email: TBD` next to a phone: both reachable (docs: email or phone).
    assert gates["preflight.contacts"][0] == GateStatus.PASSED
    assert gates["preflight.secrets"][0] == GateStatus.PASSED


def test_no_apex_and_no_permission_set(tmp_path: Path):
    gates = _gates(_project(tmp_path, apex=False, permset=False))
    assert gates["preflight.apex-security"] == (
        GateStatus.SKIPPED,
        False,
        "no Apex classes or triggers in core: nothing to scan",
    )
    assert gates["preflight.apex-coverage"] == (
        GateStatus.SKIPPED,
        False,
        "the project has no Apex classes or triggers: no Apex coverage to measure",
    )
    status, blocking, detail = gates["preflight.permission-sets"]
    assert status == GateStatus.FAILED and blocking
    assert detail.startswith("the release adds Shipment__c, Shipment__c.Weight__c, but there is no permission set in")
    assert detail.endswith(
        "no permission set in core/ to grant read access; add one (a *.permissionset-meta.xml), "
        "or waive the gate if access comes from profiles"
    )


def test_names_the_runbook_writes_are_held_to(tmp_path: Path):
    runbook = RUNBOOK + (
        "project:\n  docs: {changelog: CHANGELOG.md}\n  commands: {test_all: null, lint: null, fmt_check: null}\n"
        "security:\n  scan_paths: [force-app]\n"
    )
    gates = _gates(_project(tmp_path, runbook=runbook))
    assert gates["preflight.docs"][0] == GateStatus.FAILED and "CHANGELOG.md not found" in gates["preflight.docs"][2]
    assert gates["preflight.apex-security"][0] == GateStatus.FAILED
    assert "scan path(s) not found: force-app (security.scan_paths)" in gates["preflight.apex-security"][2]
    assert "preflight.lint" not in gates and "preflight.test-all" not in gates  # null: no gate
    assert not [
        gate
        for gate, (status, _, _) in gates.items()
        if status == GateStatus.FAILED and gate not in ("preflight.docs", "preflight.apex-security")
    ]


def test_a_manifest_the_runbook_names_must_exist(tmp_path: Path):
    gates = _gates(_project(tmp_path, runbook=RUNBOOK + "project:\n  manifest: manifest/package.xml\n"))
    assert gates["preflight.permission-sets"][:1] == (GateStatus.FAILED,)
    assert gates["preflight.permission-sets"][2] == "manifest/package.xml not found (project.manifest)"


UNSHARED = "public class ShipmentQuery {\n  public static Integer count() { return 1; }\n}\n"


@pytest.mark.parametrize(
    ("rules", "status", "expected"),
    [
        ("", GateStatus.FAILED, "1 finding(s): extras/main/default/classes/ShipmentQuery.cls:1 sharing-not-declared"),
        (
            "security:\n  rules: {sharing-not-declared: warning}\n",
            GateStatus.PASSED,
            "no failing findings in 2 Apex file(s); 1 warning(s) (not failing): "
            "extras/main/default/classes/ShipmentQuery.cls:1 sharing-not-declared",
        ),
        ("security:\n  rules: {sharing-not-declared: 'off'}\n", GateStatus.PASSED, "no findings in 2 Apex file(s)"),
    ],
)
def test_the_apex_gate_honours_security_rules(tmp_path: Path, rules: str, status: GateStatus, expected: str):
    project = _project(tmp_path, runbook=RUNBOOK + rules)
    _write(project, "extras/main/default/classes/ShipmentQuery.cls", UNSHARED)
    commit_all(project, "query", trailers=review_trailers())
    runbook = load_runbook(project / "cutover.yaml")
    report = run_preflight(project, runbook, at=INSIDE_WINDOW, only=["apex-security"])
    gate = report.gates[0]
    assert gate.status == status and gate.detail.startswith(expected), gate.detail


def test_known_issues_none_written_in_the_runbook_counts(tmp_path: Path):
    project = _project(tmp_path, runbook=RUNBOOK + "known_issues: []\n")
    _write(project, "README.md", "# Shipments\n\nRelease 1.2.0.\n")
    commit_all(project, "readme", trailers=review_trailers())
    report = run_preflight(project, load_runbook(project / "cutover.yaml"), at=INSIDE_WINDOW, only=["docs"])
    gate = report.gates[0]
    assert gate.status == GateStatus.PASSED, gate.detail
    assert "known issues documented in runbook (known_issues: [], none)" in gate.detail


def test_an_unknown_scanner_rule_is_a_failed_gate_naming_it(tmp_path: Path):
    project = _project(tmp_path, runbook=RUNBOOK + "security:\n  rules: {no-such-rule: warning}\n")
    report = run_preflight(project, load_runbook(project / "cutover.yaml"), at=INSIDE_WINDOW, only=["apex-security"])
    gate = report.gates[0]
    assert gate.status == GateStatus.FAILED and gate.detail.startswith("security settings: ")
    assert "no-such-rule" in gate.detail


def test_a_project_without_its_source_folder_is_not_taken_for_one_without_apex(tmp_path: Path):
    project = tmp_path / "empty"
    _write(project, "cutover.yaml", RUNBOOK)
    runbook = load_runbook(project / "cutover.yaml")
    report = run_preflight(project, runbook, at=INSIDE_WINDOW, only=["apex-security", "apex-coverage"])
    gates = {g.id: g for g in report.gates}
    scan = gates["preflight.apex-security"]
    assert scan.status == GateStatus.FAILED
    assert scan.detail == "force-app/ not found: set project.source_dir or security.scan_paths"
    # Not "the project has no Apex": coverage stays pending until a validation measures it.
    assert gates["preflight.apex-coverage"].detail.startswith("no validation or sandbox test run yet")
