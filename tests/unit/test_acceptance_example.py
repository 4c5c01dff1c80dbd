"""Acceptance (issue 4, item 1): examples/elaro has the shape the issue names, and its runbook is the Elaro one."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cutover.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "elaro"
DEFAULT = EXAMPLE / "force-app" / "main" / "default"
SEED_CLASSES = [
    "ComplianceDashboardController",
    "ElaroLogger",
    "ElaroSecurityUtils",
    "ElaroAuditTrailPoller",
    "RetentionEnforcementScheduler",
    "ConsentExpirationScheduler",
    "ElaroCCPASLAMonitorScheduler",
    "ElaroGLBAAnnualNoticeBatch",
]


def _class(name: str) -> str:
    return (DEFAULT / "classes" / f"{name}.cls").read_text(encoding="utf-8")


def test_the_seed_classes_objects_permission_set_and_lwc_exist() -> None:
    for name in SEED_CLASSES:
        assert (DEFAULT / "classes" / f"{name}.cls-meta.xml").is_file(), name
        assert re.search(rf"\bclass\s+{name}\b", _class(name)), name
    security = _class("ElaroSecurityUtils")
    assert re.search(r"\bvalidateCRUDAccess\s*\(", security) and re.search(r"\bstripInaccessibleFields\s*\(", security)
    test_classes = [p.stem for p in (DEFAULT / "classes").glob("*.cls") if "@istest" in p.read_text().lower()]
    assert len(test_classes) >= 3, test_classes
    for obj in ("Compliance_Gap__c", "Elaro_Audit_Log__c", "Governor_Limit_Snapshot__c"):
        assert (DEFAULT / "objects" / obj / f"{obj}.object-meta.xml").is_file(), obj
    assert (DEFAULT / "objects" / "Governor_Limit_Snapshot__c" / "fields" / "Value__c.field-meta.xml").is_file()
    assert list((DEFAULT / "permissionsets").glob("*.permissionset-meta.xml"))
    assert list((DEFAULT / "lwc").glob("*/*.js-meta.xml"))


def test_project_files_docs_and_real_tool_scripts() -> None:
    assert json.loads((EXAMPLE / "sfdx-project.json").read_text())["packageDirectories"]
    assert "<Package" in (EXAMPLE / "manifest" / "package.xml").read_text()
    version = json.loads((EXAMPLE / "package.json").read_text())["version"]
    assert version in (EXAMPLE / "README.md").read_text()
    changelog = (EXAMPLE / "CHANGELOG.md").read_text()
    assert "Keep a Changelog" in changelog and f"## [{version}]" in changelog
    package = json.loads((EXAMPLE / "package.json").read_text())
    scripts, tools = package["scripts"], set(package["devDependencies"])
    for script in ("test:all", "lint", "fmt:check", "test:unit"):
        assert script in scripts, script
    assert "prettier" in scripts["fmt:check"] and {"prettier", "prettier-plugin-apex"} <= tools
    assert "eslint" in scripts["lint"] and "jest" in scripts["test:unit"]
    assert (EXAMPLE / "package-lock.json").is_file()


def test_the_example_runbook_plans_the_same_steps_as_cutover_init(tmp_path: Path, capsys) -> None:
    assert main(["-C", str(tmp_path), "init", "--template", "elaro"]) == 0
    capsys.readouterr()
    assert main(["-C", str(tmp_path), "plan", "--format", "json"]) == 0
    from_init = [s["id"] for s in json.loads(capsys.readouterr().out)["steps"]]
    assert main(["-C", str(EXAMPLE), "plan", "--format", "json"]) == 0
    from_example = [s["id"] for s in json.loads(capsys.readouterr().out)["steps"]]
    assert from_example == from_init and len(from_init) > 40
