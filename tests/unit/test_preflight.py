"""`cutover preflight` end to end on a git copy of examples/elaro, with the project's npm commands replaced by small
Python ones (the real npm tools run in tests/integration/test_preflight.py)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from cutover.checks.sample_repo import commit_all, make_release_repo, review_trailers
from cutover.cli import main
from cutover.runbook import load_runbook
from cutover.steps.preflight import preflight_gates

INSIDE_WINDOW = "2026-11-27T19:00:00-05:00"  # a Friday, 7 PM New York
OUTSIDE_WINDOW = "2026-11-25T10:00:00-05:00"

FAKE_JEST = """
import json, os, sys
os.makedirs("coverage", exist_ok=True)
pct = float(os.environ.get("FAKE_LWC_PCT", "92.5"))
total = {k: {"total": 40, "covered": 37, "pct": pct} for k in ("lines", "statements", "functions", "branches")}
json.dump({"total": total}, open("coverage/coverage-summary.json", "w"))
print("Tests: 6 passed, 6 total")
"""


def _commands(project: Path, lint_exit: int = 0) -> None:
    (project / "scripts" / "fake_jest.py").write_text(FAKE_JEST)
    py = sys.executable
    commands = {
        "test_all": [py, "-c", "print('all tests passed')"],
        "lint": [py, "-c", f"import sys; print('src/x.js'); print('  1:1  error  bad  no-bad'); sys.exit({lint_exit})"],
        "fmt_check": [py, "-c", "print('All matched files use Prettier code style!')"],
        "test_unit": [py, "scripts/fake_jest.py"],
    }
    runbook = project / "cutover.yaml"
    text = runbook.read_text()
    for key, argv in commands.items():
        text, count = re.subn(rf"(?m)^(    {key}): .*$", lambda m, a=argv: f"{m.group(1)}: {json.dumps(a)}", text)
        assert count == 1, key
    runbook.write_text(text)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def _project(tmp_path: Path, *, lint_exit: int = 0) -> Path:
    project = make_release_repo(tmp_path)
    _commands(project, lint_exit=lint_exit)
    commit_all(project, "Use the test commands", trailers=review_trailers())
    from cutover.checks.sample_repo import _git

    _git(project, "push", "-q", "origin", "main")
    return project


def _preflight(project: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict, str]:
    code = main(["-C", str(project), "preflight", "--format", "json", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def _by_id(report: dict) -> dict[str, dict]:
    return {gate["id"]: gate for gate in report["gates"]}


def test_clean_example_passes_every_automated_gate_and_lists_signoffs(tmp_path, capsys):
    project = _project(tmp_path)
    code, report, err = _preflight(project, capsys, "--at", INSIDE_WINDOW)
    gates = _by_id(report)
    assert code == 4, err  # nothing failed, sign-offs still needed
    assert report["ok"] is False
    plan_order = [g.id for g in preflight_gates(load_runbook(project / "cutover.yaml"))[0]]
    assert [g["id"] for g in report["gates"]] == plan_order  # parallel lanes, deterministic output
    automated = {gid: g for gid, g in gates.items() if not gid.startswith("signoff.")}
    statuses = {gid: g["status"] for gid, g in automated.items()}
    assert statuses == {
        "preflight.test-all": "passed",
        "preflight.lint": "passed",
        "preflight.fmt-check": "passed",
        "preflight.reviews": "passed",
        "preflight.git": "passed",
        "preflight.secrets": "passed",
        "preflight.apex-security": "passed",
        "preflight.permission-sets": "passed",
        "preflight.apex-coverage": "skipped",
        "preflight.lwc-coverage": "passed",
        "preflight.docs": "passed",
        "preflight.window": "passed",
        "preflight.contacts": "passed",
    }
    assert gates["preflight.apex-coverage"]["blocking"] is False
    assert "92.5% ≥ 80%" in gates["preflight.lwc-coverage"]["detail"]
    assert "since v2.9.0" in gates["preflight.permission-sets"]["detail"]
    signoffs = [g for gid, g in gates.items() if gid.startswith("signoff.")]
    assert {g["status"] for g in signoffs} == {"waiting_signoff"}
    assert "signoff.security-review" in gates and "signoff.load-testing" in gates
    assert "cutover signoff signoff.security-review" in gates["signoff.security-review"]["detail"]
    assert "sign-off(s) still needed" in err


def test_results_are_recorded_in_the_run_with_evidence_hashes(tmp_path, capsys):
    project = _project(tmp_path)
    _, report, _ = _preflight(project, capsys, "--at", INSIDE_WINDOW)
    assert report["run_id"]
    lint = _by_id(report)["preflight.lint"]
    evidence = lint["evidence"][0]
    stored = project / evidence["path"]
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == evidence["sha256"]
    assert main(["-C", str(project), "status", "--format", "json"]) in (0, 4)
    status = json.loads(capsys.readouterr().out)
    steps = {s["id"]: s for s in status["steps"]}
    assert status["run_id"] == report["run_id"]
    assert steps["preflight.lint"]["status"] == "passed"
    assert steps["signoff.security-review"]["status"] == "waiting_signoff"
    assert {s["status"] for s in status["steps"] if s["stage"] != "preflight"} == {"pending"}
    assert main(["-C", str(project), "audit", "verify"]) == 0


def test_signoff_and_waiver_from_the_run_are_honoured(tmp_path, capsys):
    project = _project(tmp_path)
    _, report, _ = _preflight(project, capsys, "--at", OUTSIDE_WINDOW)
    window = _by_id(report)["preflight.window"]
    assert window["status"] == "waiting_signoff"
    assert "outside the deployment window" in window["detail"] and "Deployment Lead" in window["detail"]
    assert (
        main(
            [
                "-C",
                str(project),
                "signoff",
                "signoff.security-review",
                "--by",
                "Sam Secure",
                "--role",
                "security_reviewer",
                "--evidence",
                "https://tickets.example.com/SEC-42",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "-C",
                str(project),
                "waive",
                "preflight.window",
                "--reason",
                "regulator deadline",
                "--approver",
                "Avery Brooks",
            ]
        )
        == 0
    )
    capsys.readouterr()
    _, again, _ = _preflight(project, capsys, "--at", OUTSIDE_WINDOW)
    gates = _by_id(again)
    assert gates["signoff.security-review"]["status"] == "passed"
    assert "SEC-42" in gates["signoff.security-review"]["detail"]
    assert gates["preflight.window"]["status"] == "waived"
    assert "regulator deadline" in gates["preflight.window"]["detail"]


def test_a_failing_command_fails_only_its_gate(tmp_path, capsys):
    project = _project(tmp_path, lint_exit=1)
    code, report, err = _preflight(project, capsys, "--at", INSIDE_WINDOW)
    failed = [g["id"] for g in report["gates"] if g["status"] == "failed"]
    assert code == 1
    assert failed == ["preflight.lint"]
    assert "src/x.js: 1:1 error bad no-bad" in _by_id(report)["preflight.lint"]["detail"]
    assert _by_id(report)["preflight.lint"]["output_tail"] == ["src/x.js", "  1:1  error  bad  no-bad"]
    assert _by_id(report)["preflight.docs"]["output_tail"] == []
    assert "1 blocking gate(s) failed: preflight.lint" in err
    # The run keeps the tail with the step's detail, for `cutover status` and the release record.
    from cutover.engine import Engine

    engine = Engine(project)
    try:
        lint = engine.store.step(report["run_id"], "preflight.lint")
        assert lint.detail.splitlines()[1:] == ["    | src/x.js", "    |   1:1  error  bad  no-bad"]
    finally:
        engine.close()


def test_text_output_shows_the_tail_of_a_failed_command(tmp_path, capsys):
    project = _project(tmp_path, lint_exit=1)
    code = main(["-C", str(project), "preflight", "--at", INSIDE_WINDOW, "--only", "lint", "--no-record"])
    out = capsys.readouterr().out
    assert code == 1
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("    failed: `"))
    assert lines[at + 1 : at + 3] == ["      | src/x.js", "      |   1:1  error  bad  no-bad"]


def test_low_lwc_coverage_fails(tmp_path, capsys, monkeypatch):
    project = _project(tmp_path)
    monkeypatch.setenv("FAKE_LWC_PCT", "61")
    _, report, _ = _preflight(project, capsys, "--at", INSIDE_WINDOW, "--no-record")
    gate = _by_id(report)["preflight.lwc-coverage"]
    assert gate["status"] == "failed" and "61.0% < 80%" in gate["detail"]
    assert report["run_id"] is None


def test_junit_has_one_testcase_per_gate(tmp_path, capsys):
    project = _project(tmp_path, lint_exit=1)
    code = main(["-C", str(project), "preflight", "--format", "junit", "--at", INSIDE_WINDOW, "--no-record"])
    suite = ET.fromstring(capsys.readouterr().out.split("\n", 1)[1])
    cases = suite.findall("testcase")
    assert code == 1
    assert len(cases) == int(suite.get("tests"))
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    skipped = [c.get("name") for c in cases if c.find("skipped") is not None]
    assert failed == ["preflight.lint"]
    assert "preflight.apex-coverage" in skipped and "signoff.security-review" in skipped


def test_a_new_commit_is_not_mixed_into_the_old_run(tmp_path, capsys):
    project = _project(tmp_path)
    _, first, _ = _preflight(project, capsys, "--at", INSIDE_WINDOW)
    (project / "docs" / "extra.md").write_text("more\n")
    commit_all(project, "docs", trailers=review_trailers())
    from cutover.checks.sample_repo import _git

    _git(project, "push", "-q", "origin", "main")
    _, second, _ = _preflight(project, capsys, "--at", INSIDE_WINDOW)
    assert second["run_id"] is None
    assert any(first["run_id"] in note and "another commit" in note for note in second["notes"])


def test_text_output_and_bad_at(tmp_path, capsys):
    project = _project(tmp_path)
    code = main(["-C", str(project), "preflight", "--at", INSIDE_WINDOW, "--only", "docs"])
    out = capsys.readouterr().out
    assert code == 0
    assert "✔ preflight.docs: Documentation" in out and "README.md:3 mentions 3.0.0" in out
    assert main(["-C", str(project), "preflight", "--at", "next friday"]) == 2
    assert "not an ISO 8601 date-time" in capsys.readouterr().err


def test_no_runbook_is_a_usage_error(tmp_path, capsys):
    assert main(["-C", str(tmp_path), "preflight"]) == 2
    assert "no cutover.yaml" in capsys.readouterr().err


def test_fixing_a_failed_gate_with_signoffs_keeps_the_same_run(tmp_path, capsys):
    """Preflight fails on reviews; two reviewers sign off; the next preflight passes the gate in the *same* run, and
    `cutover run --until preflight` then continues that run (the sign-offs are not left behind in a failed run)."""
    project = make_release_repo(tmp_path, reviewers=())
    _commands(project)
    commit_all(project, "Use the test commands")
    from cutover.checks.sample_repo import _git

    _git(project, "push", "-q", "origin", "main")
    code, report, _ = _preflight(project, capsys, "--at", INSIDE_WINDOW)
    assert code == 1 and _by_id(report)["preflight.reviews"]["status"] == "failed"
    assert main(["-C", str(project), "--yes", "run", "--until", "preflight"]) == 1  # stops at the failed gate
    capsys.readouterr()
    first_run = json.loads(_status(project, capsys))["run_id"]

    for who in ("Rita Reviewer", "Sam Second"):
        assert main(["-C", str(project), "signoff", "preflight.reviews", "--by", who, "--role", "reviewer"]) == 0
    capsys.readouterr()
    code, report, _ = _preflight(project, capsys, "--at", INSIDE_WINDOW)
    assert _by_id(report)["preflight.reviews"]["status"] == "passed", _by_id(report)["preflight.reviews"]
    assert json.loads(_status(project, capsys))["run_id"] == first_run


def _status(project: Path, capsys: pytest.CaptureFixture[str]) -> str:
    main(["-C", str(project), "status", "--format", "json"])
    return capsys.readouterr().out
