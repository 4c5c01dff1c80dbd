"""Preflight on a generated 5,000-file repository: cold (no cache) and warm (incremental secrets scan), per gate.

The repository is examples/elaro (as a release repo with `v2.9.0`, review trailers and a bare origin) plus generated
Apex classes, custom fields, LWC modules, docs and static data, 5,000 tracked files in all. The project's npm
commands are replaced by a no-op so the figures measure cutover's own gates; the real commands' cost is printed
separately on the example itself when its node_modules are installed. Figures only, never assertions.

    python -m bench preflight            # CUTOVER_BENCH_FILES=N to change the size
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from cutover.checks.sample_repo import EXAMPLE_DIR, _git, commit_all, make_release_repo, review_trailers

TARGET_FILES = int(os.environ.get("CUTOVER_BENCH_FILES", "5000"))
INSIDE_WINDOW = "2026-11-27T19:00:00-05:00"

APEX = """public with sharing class {name} {{
  public static List<Compliance_Gap__c> open{n}(Integer maxRows) {{
    ElaroSecurityUtils.validateCRUDAccess(Compliance_Gap__c.SObjectType, System.AccessType.READABLE);
    return [
      SELECT Id, Name, Status__c FROM Compliance_Gap__c
      WHERE Status__c != 'Closed' WITH SECURITY_ENFORCED LIMIT :maxRows
    ];
  }}
}}
"""
APEX_META = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<ApexClass xmlns="http://soap.sforce.com/2006/04/metadata">\n'
    "    <apiVersion>62.0</apiVersion>\n    <status>Active</status>\n</ApexClass>\n"
)
FIELD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<CustomField xmlns="http://soap.sforce.com/2006/04/metadata">\n'
    "    <fullName>{name}</fullName>\n    <label>{name}</label>\n    <required>false</required>\n"
    "    <type>Text</type>\n    <length>80</length>\n</CustomField>\n"
)
JS = "export function metric{n}(values) {{\n  return values.filter((v) => v > {n}).length;\n}}\n"
DOC = "# Control {n}\n\nEvidence for control {n}: reviewed quarterly, owner compliance team, ticket CMP-{n}.\n"


def generate(project: Path, target: int) -> int:
    """Add files until the repository tracks `target` files; returns how many were added."""
    base = project / "force-app" / "main" / "default"
    existing = len(_git(project, "ls-files").splitlines())
    to_add = max(0, target - existing)
    kinds = ["apex", "field", "js", "doc", "data"]
    added = 0
    n = 0
    while added < to_add:
        kind = kinds[n % len(kinds)]
        if kind == "apex" and to_add - added >= 2:
            name = f"GeneratedControl{n}"
            (base / "classes" / f"{name}.cls").write_text(APEX.format(name=name, n=n))
            (base / "classes" / f"{name}.cls-meta.xml").write_text(APEX_META)
            added += 2
        elif kind == "field":
            (base / "objects" / "Compliance_Gap__c" / "fields" / f"Control_{n}__c.field-meta.xml").write_text(
                FIELD.format(name=f"Control_{n}__c")
            )
            added += 1
        elif kind == "js":
            folder = base / "lwc" / "generatedMetrics"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"metric{n}.js").write_text(JS.format(n=n))
            added += 1
        elif kind == "doc":
            folder = project / "docs" / "controls"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"control-{n}.md").write_text(DOC.format(n=n))
            added += 1
        else:
            folder = project / "data" / "fixtures"
            folder.mkdir(parents=True, exist_ok=True)
            rows = [{"Name": f"GAP-{n}-{i}", "Status__c": "Open", "Severity__c": "High"} for i in range(20)]
            (folder / f"gaps-{n}.json").write_text(json.dumps(rows, indent=1))
            added += 1
        n += 1
    _grant_generated_fields(base)
    return added


def _grant_generated_fields(base: Path) -> None:
    """Give the generated fields access in the permission set, as a real release would (the gate checks it)."""
    permset = base / "permissionsets" / "Elaro_Admin.permissionset-meta.xml"
    fields = sorted(p.name.split(".")[0] for p in (base / "objects" / "Compliance_Gap__c" / "fields").glob("Control_*"))
    grants = "".join(
        "    <fieldPermissions>\n        <editable>true</editable>\n"
        f"        <field>Compliance_Gap__c.{name}</field>\n        <readable>true</readable>\n    </fieldPermissions>\n"
        for name in fields
    )
    permset.write_text(permset.read_text().replace("</PermissionSet>", grants + "</PermissionSet>"))


def _no_op_commands(project: Path) -> None:
    runbook = project / "cutover.yaml"
    text = runbook.read_text()
    noop = json.dumps([sys.executable, "-c", "pass"])
    for key in ("test_all", "lint", "fmt_check"):
        text = re.sub(rf"(?m)^(    {key}): .*$", rf"\1: {noop}", text)
    summary = (
        "import json, os; os.makedirs('coverage', exist_ok=True); "
        "t={k: {'total': 1, 'covered': 1, 'pct': 100} for k in ('lines','statements','functions','branches')}; "
        "json.dump({'total': t}, open('coverage/coverage-summary.json', 'w'))"
    )
    text = re.sub(
        r"(?m)^(    test_unit): .*$", lambda m: f"{m.group(1)}: {json.dumps([sys.executable, '-c', summary])}", text
    )
    runbook.write_text(text)


def _timed_preflight(project: Path) -> tuple[float, dict]:
    from cutover.runbook import load_runbook
    from cutover.steps.preflight import run_preflight

    runbook = load_runbook(project / "cutover.yaml")
    started = time.perf_counter()
    report = run_preflight(project, runbook, runbook_path=project / "cutover.yaml", at=_at())
    return time.perf_counter() - started, report.to_json()


def _at():
    from datetime import datetime

    return datetime.fromisoformat(INSIDE_WINDOW)


def _gate_timings(project: Path) -> dict[str, float]:
    """Each gate alone (warm caches), to show where the time goes."""
    from cutover.runbook import load_runbook
    from cutover.steps.preflight import PreflightContext, evaluate_gate, preflight_gates

    runbook = load_runbook(project / "cutover.yaml")
    gates, _ = preflight_gates(runbook)
    ctx = PreflightContext(
        project_dir=project, runbook=runbook, at=_at(), cache_dir=project / ".cutover" / "cache", previous_tag="v2.9.0"
    )
    timings = {}
    for spec in gates:
        if spec.action == "signoff":
            continue
        started = time.perf_counter()
        evaluate_gate(spec, ctx)
        timings[spec.id] = time.perf_counter() - started
    return timings


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="cutover-bench-preflight-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        project = make_release_repo(root)
        _no_op_commands(project)
        added = generate(project, TARGET_FILES)
        commit_all(project, "Generated controls", trailers=review_trailers())
        _git(project, "push", "-q", "origin", "main")
        files = len(_git(project, "ls-files").splitlines())
        apex = len(list((project / "force-app").rglob("*.cls")))
        print(
            f"repository: {files} tracked files ({added} generated, {apex} Apex classes), "
            f"built in {time.perf_counter() - started:.1f} s"
        )

        cold, report = _timed_preflight(project)
        failed = [g["id"] for g in report["gates"] if g["status"] == "failed"]
        secrets = next(g for g in report["gates"] if g["id"] == "preflight.secrets")
        print(f"preflight cold (no cache):   {cold:6.2f} s   failed gates: {failed or 'none'}")
        print(f"  secrets: {secrets['detail']}")
        warm, report = _timed_preflight(project)
        secrets = next(g for g in report["gates"] if g["id"] == "preflight.secrets")
        print(f"preflight warm (cached):     {warm:6.2f} s")
        print(f"  secrets: {secrets['detail']}")
        # One file changes: only it is rescanned.
        doc = next((project / "docs" / "controls").glob("*.md"))
        doc.write_text(doc.read_text() + "\nUpdated.\n")
        commit_all(project, "Touch one doc", trailers=review_trailers())
        _git(project, "push", "-q", "origin", "main")
        one, report = _timed_preflight(project)
        secrets = next(g for g in report["gates"] if g["id"] == "preflight.secrets")
        print(f"preflight after 1 change:    {one:6.2f} s")
        print(f"  secrets: {secrets['detail']}")
        print("per gate (warm, run one at a time):")
        for gate_id, seconds in _gate_timings(project).items():
            print(f"  {gate_id:28s} {seconds:6.2f} s")

        from cutover.checks.apex import scan_paths
        from cutover.runbook import load_runbook
        from cutover.steps.preflight import scan_config_for

        config = scan_config_for(load_runbook(project / "cutover.yaml").security)
        started = time.perf_counter()
        scan = scan_paths([str(project / "force-app")], config)
        seconds = time.perf_counter() - started
        print(
            f"apex scan inside preflight: {scan.files} files in {seconds:.2f} s ({scan.files / seconds:,.0f} files/s)"
        )

    node_modules = EXAMPLE_DIR / "node_modules"
    if (node_modules / ".bin" / "jest").exists():
        with tempfile.TemporaryDirectory(prefix="cutover-bench-preflight-npm-") as tmp:
            project = make_release_repo(Path(tmp), node_modules=node_modules)
            seconds, report = _timed_preflight(project)
            print(f"examples/elaro with its real npm commands: {seconds:.2f} s")
            for gate in report["gates"]:
                if gate["id"] in (
                    "preflight.test-all",
                    "preflight.lint",
                    "preflight.fmt-check",
                    "preflight.lwc-coverage",
                ):
                    print(f"  {gate['id']:28s} {gate['detail']}")
    else:
        print("examples/elaro/node_modules not installed: real npm command timings skipped (run `make setup`)")


if __name__ == "__main__":
    main()
