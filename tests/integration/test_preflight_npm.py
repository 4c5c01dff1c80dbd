"""Command gates with the real npm: a missing script fails before running, a failing script shows the tail of
what the tool printed (npm's own `npm error` wrapper lines dropped), a passing one passes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cutover.checks.commands import run_command_gate
from cutover.checks.result import GateStatus

pytestmark = pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")

FAILING = """
for (let i = 1; i <= 25; i++) console.error(`src/file${i}.js: problem ${i}`);
console.log("checked 25 files");
process.exit(2);
"""


def test_real_npm_scripts(tmp_path: Path):
    scripts = {"lint": "node lint.js", "fmt:check": "node -e \"console.log('formatted')\""}
    (tmp_path / "package.json").write_text(json.dumps({"name": "demo", "version": "1.0.0", "scripts": scripts}))
    (tmp_path / "lint.js").write_text(FAILING)

    missing = run_command_gate(
        "preflight.test-all", "Tests", "npm run test:all", tmp_path, setting="project.commands.test_all"
    )
    assert missing.status == GateStatus.FAILED and missing.evidence == ()
    assert missing.detail.startswith("package.json has no script 'test:all' (it has: fmt:check, lint); add it")

    lint = run_command_gate("preflight.lint", "Lint", "npm run lint", tmp_path, setting="project.commands.lint")
    assert lint.status == GateStatus.FAILED and "exited 2" in lint.detail
    assert lint.output_tail[0] == "src/file6.js: problem 6" and lint.output_tail[-1] == "src/file25.js: problem 25"
    assert len(lint.output_tail) == 20
    assert not [line for line in lint.output_tail if line.startswith("npm ")]

    fmt = run_command_gate("preflight.fmt-check", "Format", "npm run fmt:check", tmp_path)
    assert fmt.status == GateStatus.PASSED and "formatted" in fmt.evidence[0].content
