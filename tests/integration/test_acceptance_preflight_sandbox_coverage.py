"""Acceptance (issue 4): the Apex coverage gate reads a sandbox test run when the runbook names one (`sf.test_org`):
the real sf CLI runs `apex run test --code-coverage` against orgsim, and the gate passes or fails on the org-wide
figure against `thresholds.apex_coverage`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cutover.runbook import load_runbook
from cutover.steps.preflight import run_preflight
from orgsim.scenario import builtin_scenario_path
from orgsim.testing import login

pytestmark = pytest.mark.integration

EXAMPLE_RUNBOOK = Path(__file__).resolve().parents[2] / "examples" / "elaro" / "cutover.yaml"
SEED = builtin_scenario_path("production").parent / "elaro-previous-release"


def _coverage_gate(
    tmp_path: Path, sf_bin: Path, sf_home: Path, monkeypatch: pytest.MonkeyPatch, org: Any, coverage: float
) -> Any:
    scenario = {
        "org": {"sandbox": True},
        "metadata": {"seed_dir": str(SEED)},
        "durations": {"test_seconds": 0.5},
        "apex": {"default_coverage": coverage},
    }
    server = org(scenario, name=f"sandbox-{coverage}")
    login(sf_bin, sf_home, server.url, server.token, alias="fullsandbox")
    project = tmp_path / f"project-{coverage}"
    project.mkdir()
    text = EXAMPLE_RUNBOOK.read_text(encoding="utf-8")
    text = text.replace("  test_org: null", "  test_org: fullsandbox", 1).replace(
        "  binary: null", f"  binary: {sf_bin}", 1
    )
    (project / "cutover.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("HOME", str(sf_home))  # where the CLI keeps the sandbox login
    report = run_preflight(project, load_runbook(project / "cutover.yaml"), only=["preflight.apex-coverage"])
    [gate] = report.gates
    return gate


def test_sandbox_test_run_coverage_passes_and_fails_the_gate(
    tmp_path: Path, sf_bin: Path, sf_home: Path, monkeypatch: pytest.MonkeyPatch, orgsim_factory: Any
) -> None:
    high = _coverage_gate(tmp_path, sf_bin, sf_home, monkeypatch, orgsim_factory, 92)
    assert high.status == "passed", high.detail
    assert "fullsandbox" in high.detail and "85" in high.detail
    low = _coverage_gate(tmp_path, sf_bin, sf_home, monkeypatch, orgsim_factory, 60)
    assert low.status == "failed" and low.blocking, low.detail
    # orgsim counts covered lines per class, so the org-wide figure lands near (not exactly on) the scenario's 60 %.
    assert "fullsandbox" in low.detail and "% < 85%" in low.detail
