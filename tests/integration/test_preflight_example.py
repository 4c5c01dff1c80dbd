"""`cutover preflight` on a git copy of examples/elaro with its real npm tools (prettier + prettier-plugin-apex,
eslint, jest), detect-secrets and the Apex scanner. No sf needed: the preflight gates never touch an org."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cutover.checks.commands import command_env
from cutover.checks.sample_repo import EXAMPLE_DIR, break_example, make_release_repo
from cutover.cli import main

INSIDE_WINDOW = "2026-11-27T19:00:00-05:00"
TOOLS = ("eslint", "jest", "prettier")


def _lock_digest() -> str:
    return hashlib.sha256((EXAMPLE_DIR / "package-lock.json").read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def elaro_node_modules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's devDependencies: `make setup` installs them in examples/elaro/node_modules; without them this
    fixture runs `npm ci` once per session (about 15 s). A missing npm fails the tests, never skips them."""
    installed = EXAMPLE_DIR / "node_modules"
    if all((installed / ".bin" / tool).exists() for tool in TOOLS):
        return installed
    npm = shutil.which("npm", path=command_env()["PATH"])
    if npm is None:
        pytest.fail("npm is needed for the example's lint/format/unit-test commands: run `make setup`")
    target = tmp_path_factory.mktemp(f"elaro-npm-{_lock_digest()[:8]}")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(EXAMPLE_DIR / name, target / name)
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
        cwd=target,
        env=command_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        pytest.fail(f"npm ci for examples/elaro failed:\n{done.stdout}\n{done.stderr}")
    return target / "node_modules"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def _preflight(project: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict, str]:
    code = main(["-C", str(project), "preflight", "--format", "json", "--at", INSIDE_WINDOW])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def test_example_passes_every_automated_gate(tmp_path, capsys, elaro_node_modules):
    project = make_release_repo(tmp_path, node_modules=elaro_node_modules)
    code, report, err = _preflight(project, capsys)
    by_status: dict[str, list[str]] = {}
    for gate in report["gates"]:
        by_status.setdefault(gate["status"], []).append(gate["id"])
    assert code == 4, err
    assert "failed" not in by_status, [g for g in report["gates"] if g["status"] == "failed"]
    assert by_status["skipped"] == ["preflight.apex-coverage"]  # checked at the validation step
    assert all(gid.startswith("signoff.") for gid in by_status["waiting_signoff"])
    assert len(by_status["waiting_signoff"]) == 11
    gates = {g["id"]: g for g in report["gates"]}
    assert "no findings in 13 Apex file(s)" in gates["preflight.apex-security"]["detail"]
    assert "LWC lines coverage 100.0%" in gates["preflight.lwc-coverage"]["detail"]
    assert "1 new object(s) and 4 new field(s) since v2.9.0" in gates["preflight.permission-sets"]["detail"]
    lint_log = (project / gates["preflight.lint"]["evidence"][0]["path"]).read_text()
    assert "eslint force-app/main/default/lwc" in lint_log and "# exit code: 0" in lint_log


def test_broken_variant_fails_exactly_the_four_gates(tmp_path, capsys, elaro_node_modules):
    project = make_release_repo(tmp_path, node_modules=elaro_node_modules)
    break_example(project)
    code, report, err = _preflight(project, capsys)
    gates = {g["id"]: g for g in report["gates"]}
    failed = sorted(gid for gid, g in gates.items() if g["status"] == "failed")
    assert code == 1
    assert failed == ["preflight.apex-security", "preflight.docs", "preflight.lint", "preflight.secrets"]
    assert "ElaroAuditTrailPoller.cls:6 (Secret Keyword)" in gates["preflight.secrets"]["detail"]
    assert "Hunter2" not in json.dumps(report)
    assert "RetentionEnforcementScheduler.cls:16 soql-not-enforced" in gates["preflight.apex-security"]["detail"]
    assert (
        "gapMetrics.js: 4:7 error 'debugMode' is assigned a value but never used" in gates["preflight.lint"]["detail"]
    )
    assert "README.md does not mention version 3.0.0 (it mentions 2.9.0)" in gates["preflight.docs"]["detail"]
    assert "4 blocking gate(s) failed" in err
    secrets_evidence = (project / gates["preflight.secrets"]["evidence"][0]["path"]).read_text()
    assert "Hunter2" not in secrets_evidence
    state_files = [p for p in (project / ".cutover").rglob("*") if p.is_file()]
    assert state_files and all("Hunter2" not in p.read_text(errors="replace") for p in state_files)
