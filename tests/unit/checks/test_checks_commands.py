import sys
from pathlib import Path

from cutover.checks.commands import problem_excerpt, run_command_gate
from cutover.checks.result import GateStatus


def test_passing_command_keeps_output_as_evidence(tmp_path: Path):
    result = run_command_gate("preflight.lint", "Lint", f"{sys.executable} -c \"print('all good')\"", tmp_path)
    assert result.status == GateStatus.PASSED
    assert "exited 0" in result.detail
    assert "all good" in result.evidence[0].content
    assert "# exit code: 0" in result.evidence[0].content


def test_failing_command_quotes_the_problem(tmp_path: Path):
    script = "import sys; print('src/a.js'); print('  4:7  error  x is unused  no-unused-vars'); sys.exit(1)"
    result = run_command_gate("preflight.lint", "Lint", f'{sys.executable} -c "{script}"', tmp_path)
    assert result.status == GateStatus.FAILED
    assert "exited 1" in result.detail
    assert "src/a.js: 4:7 error x is unused no-unused-vars" in result.detail


def test_missing_tool_is_a_clear_failure(tmp_path: Path):
    result = run_command_gate("preflight.lint", "Lint", "definitely-not-a-tool --check", tmp_path)
    assert result.status == GateStatus.FAILED
    assert "definitely-not-a-tool is not installed (not found on PATH)" in result.detail


def test_timeout_stops_the_command(tmp_path: Path):
    result = run_command_gate(
        "preflight.test-all", "Tests", f'{sys.executable} -c "import time; time.sleep(30)"', tmp_path, timeout=0.5
    )
    assert result.status == GateStatus.FAILED
    assert "timed out" in result.detail


def test_secrets_in_output_are_redacted(tmp_path: Path):
    token = "00D000000000001AAA!AQ8xyzSECRETxyz"
    result = run_command_gate("g", "t", f"{sys.executable} -c \"print('{token}'); raise SystemExit(2)\"", tmp_path)
    assert "SECRETxyz" not in result.evidence[0].content
    assert "SECRETxyz" not in result.detail


def test_problem_excerpt_skips_npm_noise():
    output = "> elaro@3.0.0 lint\nnpm error Lifecycle script failed\nFAIL src/x.test.js\n"
    assert problem_excerpt(output) == "FAIL src/x.test.js"


def test_unbalanced_quote_in_the_command_is_a_failed_gate(tmp_path: Path):
    result = run_command_gate("preflight.lint", "Lint", "npm run lint -- --ext '.js", tmp_path)
    assert result.status == GateStatus.FAILED
    assert "cannot split" in result.detail
