"""Project commands checked before they run: npm scripts, package.json, node_modules, npx tools, the program."""

import json
import os
import sys
from pathlib import Path

import pytest

from cutover.checks.commands import output_tail, run_command_gate
from cutover.checks.node import check_command, npm_script, npx_program
from cutover.checks.result import GateStatus

SETTING = "project.commands.test_all"


def _package(project: Path, scripts: dict[str, str], deps: bool = False) -> None:
    data: dict[str, object] = {"name": "demo", "scripts": scripts}
    if deps:
        data["devDependencies"] = {"jest": "^29.0.0"}
    (project / "package.json").write_text(json.dumps(data))


def _fake_bin(folder: Path, name: str, script: str = "exit 0") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def fake_npm(tmp_path: Path) -> str:
    """A PATH holding a stand-in `npm` and `npx` (the checks must not depend on the machine's Node)."""
    bin_dir = tmp_path / "fakebin"
    _fake_bin(bin_dir, "npm")
    _fake_bin(bin_dir, "npx")
    return f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin"


def test_npm_script_names():
    assert npm_script(["npm", "run", "test:all"]) == ("npm", "test:all")
    assert npm_script(["npm", "--silent", "run-script", "lint", "--", "--fix"]) == ("npm", "lint")
    assert npm_script(["npm", "test"]) == ("npm", "test")
    assert npm_script(["yarn", "run", "fmt:check"]) == ("yarn", "fmt:check")
    assert npm_script(["npm", "ci"]) is None and npm_script(["make", "test"]) is None
    assert npx_program(["npx", "--yes", "jest@29", "--coverage"]) == "jest"
    assert npx_program(["npx", "@salesforce/sfdx-lwc-jest"]) == "@salesforce/sfdx-lwc-jest"
    assert npx_program(["npx", "--package", "x", "y"]) is None


def test_missing_npm_script_names_the_script_and_the_fix(tmp_path: Path, fake_npm: str):
    _package(tmp_path, {"lint": "eslint .", "test": "jest"})
    problem = check_command(["npm", "run", "test:all"], tmp_path, fake_npm, SETTING)
    assert problem is not None
    assert problem.message == (
        "package.json has no script 'test:all' (it has: lint, test); add it, or set project.commands.test_all "
        "to the command you use, or null to drop the gate"
    )


def test_no_package_json_is_said_plainly(tmp_path: Path, fake_npm: str):
    problem = check_command(["npm", "run", "lint"], tmp_path, fake_npm, "project.commands.lint")
    assert problem is not None
    assert "`npm run lint` runs a package.json script, but the project has no package.json" in problem.message
    assert "set project.commands.lint to the command you use, or null to drop the gate" in problem.message


def test_broken_package_json_is_named(tmp_path: Path, fake_npm: str):
    (tmp_path / "package.json").write_text("{not json")
    problem = check_command(["npm", "run", "lint"], tmp_path, fake_npm)
    assert problem is not None and "package.json is not valid JSON" in problem.message


def test_npm_ci_not_run_is_detected(tmp_path: Path, fake_npm: str):
    _package(tmp_path, {"test:unit": "sfdx-lwc-jest"}, deps=True)
    problem = check_command(["npm", "run", "test:unit"], tmp_path, fake_npm)
    assert problem is not None and "node_modules/ not found" in problem.message
    assert "run `npm install` there first" in problem.message  # no lock file: npm ci would refuse
    (tmp_path / "package-lock.json").write_text("{}")
    problem = check_command(["npm", "run", "test:unit"], tmp_path, fake_npm)
    assert problem is not None and "run `npm ci` there first" in problem.message
    (tmp_path / "node_modules").mkdir()
    assert check_command(["npm", "run", "test:unit"], tmp_path, fake_npm) is None


def test_script_without_dependencies_needs_no_node_modules(tmp_path: Path, fake_npm: str):
    _package(tmp_path, {"lint": "echo ok"})
    assert check_command(["npm", "run", "lint"], tmp_path, fake_npm) is None


def test_npx_tool_that_is_not_installed(tmp_path: Path, fake_npm: str):
    problem = check_command(["npx", "prettier", "--check", "."], tmp_path, fake_npm, "project.commands.fmt_check")
    assert problem is not None
    assert "prettier is not installed (not in node_modules/.bin nor on PATH)" in problem.message
    _fake_bin(tmp_path / "node_modules" / ".bin", "prettier")
    assert check_command(["npx", "prettier", "--check", "."], tmp_path, fake_npm) is None


def test_program_not_installed(tmp_path: Path):
    empty_path = str(tmp_path / "nothing-here")
    problem = check_command(["npx", "jest"], tmp_path, empty_path)
    assert problem is not None
    assert problem.message.startswith("`npx jest`: npx is not installed (not found on PATH); install Node.js")


def test_the_gate_fails_before_running_a_missing_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_npm):
    # The stand-in npm would exit 0: the gate must fail on the missing script without running it.
    monkeypatch.setenv("PATH", fake_npm)
    monkeypatch.setenv("CUTOVER_NODE_BIN", str(tmp_path / "no-node"))
    _package(tmp_path, {"lint": "eslint ."})
    result = run_command_gate("preflight.test-all", "Tests", "npm run test:all", tmp_path, setting=SETTING)
    assert result.status == GateStatus.FAILED and result.evidence == ()
    assert "package.json has no script 'test:all'" in result.detail and SETTING in result.detail


def test_a_failed_command_shows_the_tail_of_its_stderr(tmp_path: Path):
    script = (
        "import sys\n"
        "print('stdout line')\n"
        "for i in range(30): print(f'err {i}', file=sys.stderr)\n"
        "print('password=hunter2 Bearer 00D000000000001AAA!AQ8xyzSECRETxyz', file=sys.stderr)\n"
        "sys.exit(3)\n"
    )
    (tmp_path / "fail.py").write_text(script)
    result = run_command_gate("preflight.lint", "Lint", f"{sys.executable} fail.py", tmp_path)
    assert result.status == GateStatus.FAILED and "exited 3" in result.detail
    assert len(result.output_tail) == 20
    assert result.output_tail[0] == "err 11" and result.output_tail[-2] == "err 29"
    assert "SECRETxyz" not in result.output_tail[-1]
    assert "stdout line" not in result.output_tail
    log = result.evidence[0].content
    assert "stdout line" in log and "err 0" in log  # the evidence keeps both streams


def test_tail_falls_back_to_stdout_and_drops_npm_noise(tmp_path: Path):
    stderr = "npm error Lifecycle script `lint` failed with error:\nnpm error code 1\n"
    stdout = "> demo@1.0.0 lint\n> eslint .\n\n/p/src/a.js\n  1:1  error  bad  no-bad\n"
    assert output_tail(stderr, stdout, Path("/p")) == ("src/a.js", "  1:1  error  bad  no-bad")
    assert output_tail("real problem\n", stdout, Path("/p")) == ("real problem",)


def test_passing_command_has_no_tail(tmp_path: Path):
    result = run_command_gate("g", "t", f"{sys.executable} -c \"import sys; print('warn', file=sys.stderr)\"", tmp_path)
    assert result.status == GateStatus.PASSED and result.output_tail == ()
