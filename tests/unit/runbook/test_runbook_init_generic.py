"""`cutover init` on projects unlike Elaro: what it finds, what it writes, and that the plan names nothing of Elaro."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cutover.cli import app
from cutover.runbook import load_runbook
from cutover.runbook.generic import OrgFacts, OrgJob, render_generic
from cutover.runbook.inspect import inspect_project, npm_commands
from cutover.runbook.loader import parse_runbook
from cutover.runbook.plan import build_plan, build_rollback_plan

SRC = Path(__file__).resolve().parents[3] / "src" / "cutover"


def make_project(
    root: Path,
    *,
    dirs: list[tuple[str, bool]] | None = None,
    api: str | None = "61.0",
    scripts: dict[str, str] | None = None,
    files: list[str] = (),
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    entries = [{"path": p, **({"default": True} if d else {})} for p, d in (dirs or [("force-app", True)])]
    doc: dict[str, object] = {"packageDirectories": entries}
    if api:
        doc["sourceApiVersion"] = api
    (root / "sfdx-project.json").write_text(json.dumps(doc))
    if scripts is not None:
        (root / "package.json").write_text(json.dumps({"name": "x", "scripts": scripts}))
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("<x/>")
    return root


def init(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["-C", str(root), "init", *args])
    return result.exit_code, result.output


def plan_text(root: Path) -> str:
    result = CliRunner().invoke(app, ["-C", str(root), "plan", "--format", "json"])
    assert result.exit_code == 0, result.output
    return result.output


APEX = "force-app/main/default/classes/Greeter.cls-meta.xml"
OBJECT = "force-app/main/default/objects/Widget__c/Widget__c.object-meta.xml"
PERMSET = "force-app/main/default/permissionsets/Widgets.permissionset-meta.xml"
LWC = "force-app/main/default/lwc/widgetCard/widgetCard.js-meta.xml"


def test_no_package_json_means_no_npm_gates_and_no_elaro(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", files=[APEX, OBJECT, PERMSET])
    code, out = init(root)
    assert code == 0, out
    runbook = load_runbook(root / "cutover.yaml")
    commands = runbook.project.commands
    assert (commands.test_all, commands.lint, commands.fmt_check, commands.test_unit) == (None, None, None, None)
    assert runbook.project.has_apex and runbook.project.has_permission_sets
    assert runbook.sf.api_version == "61.0"
    assert runbook.scheduled_jobs == [] and runbook.monitoring.limits_query is None
    assert runbook.security.crud_guards == [] and runbook.security.strip_methods == ["Security.stripInaccessible"]
    text = plan_text(root)
    ids = [s["id"] for s in json.loads(text)["steps"]]
    assert not any(i in ids for i in ("preflight.test-all", "preflight.lint", "preflight.fmt-check"))
    assert {"preflight.apex-coverage", "preflight.apex-security", "preflight.permission-sets"} <= set(ids)
    assert "verify.permission-sets" not in ids  # no query declared
    assert "elaro" not in text.lower() and "elaro" not in (root / "cutover.yaml").read_text().lower()
    assert "no package.json" in out


def test_only_some_npm_scripts_become_gates(tmp_path: Path) -> None:
    scripts = {
        "lint": "eslint **/{aura,lwc}/**",
        "prettier:verify": "prettier --check .",
        "test": 'echo "Error: no test specified" && exit 1',
    }
    root = make_project(tmp_path / "p", scripts=scripts, files=[APEX])
    assert init(root)[0] == 0
    commands = load_runbook(root / "cutover.yaml").project.commands
    assert commands.lint == "npm run lint" and commands.fmt_check == "npm run prettier:verify"
    assert commands.test_all is None  # npm's placeholder test script always fails
    assert commands.test_unit is None  # no LWC, no jest


def test_multiple_package_directories_default_first(tmp_path: Path) -> None:
    root = make_project(
        tmp_path / "p",
        dirs=[("common", False), ("app", True), ("extras", False)],
        files=["app/main/default/classes/A.cls-meta.xml"],
    )
    facts = inspect_project(root)
    assert facts.package_dirs == ["app", "common", "extras"]
    assert init(root)[0] == 0
    runbook = load_runbook(root / "cutover.yaml")
    assert runbook.project.source_dir == "app"
    assert runbook.security.scan_paths == ["app", "common", "extras"]
    assert runbook.project.extra_source_dirs == ["common", "extras"]
    steps = {s.id: s for s in build_plan(runbook)}
    flags = "--source-dir app --source-dir common --source-dir extras"
    for step_id in ("backup.retrieve", "validate.dry-run"):
        assert flags in (steps[step_id].sf_command or ""), step_id
        assert steps[step_id].params["source_dirs"] == ["app", "common", "extras"]


def test_no_apex_means_no_apex_gates_or_verification_tests(tmp_path: Path) -> None:
    flows = [f"force-app/main/default/flows/F{i}.flow-meta.xml" for i in range(3)]
    root = make_project(tmp_path / "p", files=[OBJECT, *flows, "force-app/main/default/tabs/Widget__c.tab-meta.xml"])
    code, out = init(root)
    assert code == 0
    assert "custom objects: 1" in out and "other metadata: flow 3, tab 1" in out
    runbook = load_runbook(root / "cutover.yaml")
    assert not runbook.project.has_apex and not runbook.project.has_permission_sets
    ids = [s.id for s in build_plan(runbook)]
    for absent in (
        "preflight.apex-coverage",
        "preflight.apex-security",
        "preflight.permission-sets",
        "verify.apex-tests",
    ):
        assert absent not in ids
    validate = next(s for s in build_plan(runbook) if s.id == "validate.dry-run")
    assert validate.params["apex_coverage"] == 0.0 and not any("overage" in c for c in validate.checks)


def test_lwc_only_library_gets_a_coverage_gate_only_with_jest(tmp_path: Path) -> None:
    scripts = {"test:unit": "sfdx-lwc-jest", "test:unit:coverage": "sfdx-lwc-jest --coverage", "lint": "eslint ."}
    root = make_project(tmp_path / "p", scripts=scripts, files=[LWC, "jest.config.js"])
    assert init(root)[0] == 0
    runbook = load_runbook(root / "cutover.yaml")
    assert runbook.project.commands.test_unit == ("npm run test:unit:coverage -- -- --coverageReporters=json-summary")
    assert "preflight.lwc-coverage" in [s.id for s in build_plan(runbook)]
    # a coverage script that already hands options to jest after `--` (as lwc-recipes does) gets no second `--`
    recipes = {"test:unit:coverage": "sfdx-lwc-jest --coverage -- --skipApiVersionCheck"}
    assert npm_commands(recipes, has_jest=True)["test_unit"] == [
        "npm",
        "run",
        "test:unit:coverage",
        "--",
        "--coverageReporters=json-summary",
    ]
    assert npm_commands({"test:unit": "jest"}, has_jest=True)["test_unit"][3:] == [
        "--",
        "--coverage",
        "--coverageReporters=json-summary",
    ]
    # the same library without jest: no LWC coverage gate
    other = make_project(tmp_path / "q", scripts={"lint": "eslint ."}, files=[LWC])
    assert init(other)[0] == 0
    assert load_runbook(other / "cutover.yaml").project.commands.test_unit is None


def test_org_facts_fill_expect_and_scheduled_jobs(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", files=[APEX])
    org = OrgFacts(
        "00D000000000001AAA",
        "ops@example.com",
        "https://example.my.salesforce.com",
        False,
        [OrgJob("Nightly Cleanup", "0 0 2 * * ?", "CleanupJob"), OrgJob("Hourly", "0 0 * * * ?")],
    )
    runbook = parse_runbook(render_generic(inspect_project(root), "prod", org))
    assert runbook.target.alias == "prod" and runbook.target.expect.org_id == "00D000000000001AAA"
    assert [(j.name, j.class_name, j.crons) for j in runbook.scheduled_jobs] == [
        ("Nightly Cleanup", "CleanupJob", ["0 0 2 * * ?"]),
        ("Hourly", None, ["0 0 * * * ?"]),
    ]
    assert not any(p.startswith("target.expect") for p in runbook.problems())
    plan = build_plan(runbook)
    assert "verify.scheduled-jobs" in [s.id for s in plan]
    monitor = next(s for s in plan if s.id == "monitor.limits")
    assert [j["name"] for j in monitor.params["jobs"]] == ["Nightly Cleanup", "Hourly"]


def test_init_without_sfdx_project_is_a_one_line_error_and_elaro_template_needs_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cutover.cli import main

    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["-C", str(empty), "init"]) == 2
    assert "no sfdx-project.json" in capsys.readouterr().err
    assert main(["-C", str(empty), "init", "--template", "elaro"]) == 0
    assert "Elaro" in (empty / "cutover.yaml").read_text()


def test_generic_plan_texts_name_nothing_of_elaro(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", scripts={"test": "jest"}, files=[APEX, OBJECT, PERMSET, LWC])
    runbook = parse_runbook(render_generic(inspect_project(root), "production"))
    text = json.dumps([s.to_json() for s in build_plan(runbook) + build_rollback_plan(runbook)])
    assert not re.search(r"elaro|Governor_Limit_Snapshot|compliance", text, re.IGNORECASE)


# Files of this area that must hold no Elaro-specific identifier (the Elaro template and the sample repo may).
AREA_FILES = [
    *sorted((SRC / "runbook" / "plan").glob("*.py")),
    *sorted((SRC / "runbook" / "models").glob("*.py")),  # the seed's defaults are read from templates/elaro.yaml
    SRC / "runbook" / "loader.py",
    SRC / "commands" / "runbook_cmds.py",
    SRC / "runbook" / "generic.py",
    SRC / "runbook" / "inspect.py",
    SRC / "runbook" / "templates" / "generic.yaml",
    SRC / "steps" / "monitor.py",
    SRC / "steps" / "monitor_eval.py",
    SRC / "steps" / "verify.py",
    SRC / "steps" / "post_deploy.py",
]


@pytest.mark.parametrize("path", AREA_FILES, ids=lambda p: p.name)
def test_area_code_has_no_elaro_identifiers(path: Path) -> None:
    # Elaro's identifiers (ElaroSecurityUtils, Elaro_Audit_Log__c, LIKE 'Elaro%', its objects and its company);
    # naming the template file or the `--template elaro` option is fine.
    pattern = re.compile(r"Elaro\w|Elaro%|solentra|Governor_Limit_Snapshot|compliance", re.IGNORECASE)
    hits = [line for line in path.read_text(encoding="utf-8").splitlines() if pattern.search(line)]
    assert hits == []


def test_release_version_comes_from_the_changelog_then_package_json(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", scripts={"lint": "eslint ."}, files=[APEX])
    (root / "package.json").write_text(json.dumps({"version": "3.1.0", "scripts": {"lint": "eslint ."}}))
    assert inspect_project(root).version == "3.1.0"
    (root / "CHANGELOG.md").write_text("# Changelog\n\n## [2.0] draft\n\n## [2.10.0] - 2026-12-01\n- x\n\n## 2.9.0\n")
    assert inspect_project(root).version == "2.10.0"
    assert init(root)[0] == 0
    runbook = load_runbook(root / "cutover.yaml")
    assert runbook.release.version == "2.10.0" and runbook.project.docs.changelog == "CHANGELOG.md"
    bare = make_project(tmp_path / "q", files=[APEX])
    assert inspect_project(bare).version is None
    assert init(bare)[0] == 0 and load_runbook(bare / "cutover.yaml").release.version == "1.0.0"


def test_release_deletions_bring_the_manifest_along(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cutover.cli import main

    both = make_project(tmp_path / "p", files=[APEX, "manifest/package.xml", "manifest/destructiveChangesPost.xml"])
    assert main(["-C", str(both), "init"]) == 0
    project = load_runbook(both / "cutover.yaml").project
    assert project.manifest == "manifest/package.xml"
    assert (project.destructive_changes.pre, project.destructive_changes.post) == (
        None,
        "manifest/destructiveChangesPost.xml",
    )
    validate = next(s for s in build_plan(load_runbook(both / "cutover.yaml")) if s.id == "validate.dry-run")
    assert "--post-destructive-changes manifest/destructiveChangesPost.xml" in (validate.sf_command or "")
    capsys.readouterr()
    # deletions without a package.xml: the validation generates one from the package directories (the plan says so)
    alone = make_project(tmp_path / "q", files=[APEX, "manifest/destructiveChanges.xml"])
    assert main(["-C", str(alone), "init"]) == 0
    runbook = load_runbook(alone / "cutover.yaml")
    assert runbook.project.manifest is None
    assert runbook.project.destructive_changes.paths() == ["manifest/destructiveChanges.xml"]
    steps = {s.id: s for s in build_plan(runbook)}
    assert "--manifest <generated-package.xml> --post-destructive-changes" in (
        steps["validate.dry-run"].sf_command or ""
    )
    assert "--source-dir force-app" in (steps["backup.retrieve"].sf_command or "")
    # no deletions: the package directories, not the project's own (often partial) manifest
    plain = make_project(tmp_path / "r", files=[APEX, "manifest/package.xml"])
    assert main(["-C", str(plain), "init"]) == 0
    assert load_runbook(plain / "cutover.yaml").project.manifest is None
