"""The gate executors registered for the engine (`cutover run` reaching a preflight step), and gate edge cases that
need the runbook: window not enforced, waivers, a missing scan path."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cutover.checks.result import GateStatus
from cutover.checks.sample_repo import make_release_repo
from cutover.engine import Engine, StepContext, StepStatus
from cutover.runbook import load_runbook
from cutover.runbook.plan import build_plan
from cutover.steps import build_executors, plan_to_specs
from cutover.steps.preflight import GateSpec, PreflightContext, evaluate_gate, preflight_gates
from cutover.steps.registry import StepServices, executor_factory, load_builtin_executors


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_every_gate_action_of_the_plan_has_an_executor():
    load_builtin_executors()
    runbook = load_runbook(Path(__file__).resolve().parents[2] / "examples" / "elaro" / "cutover.yaml")
    gates, _ = preflight_gates(runbook)
    assert {g.action for g in gates} >= {"gate.command", "gate.git", "gate.docs", "gate.secrets", "gate.apex_scan"}
    for gate in gates:
        assert executor_factory(gate.action) is not None, gate.action


def test_engine_runs_a_gate_and_keeps_its_evidence(tmp_path: Path):
    project = make_release_repo(tmp_path)
    runbook = load_runbook(project / "cutover.yaml")
    plan = build_plan(runbook)
    engine = Engine(project)
    try:
        run = engine.create_run("production", plan_to_specs(plan, runbook))
        services = StepServices(project_dir=project, target_org="production")
        executors = build_executors(plan, runbook, services, ["preflight.docs", "preflight.permission-sets"])
        for step_id in ("preflight.docs", "preflight.permission-sets"):
            record = engine.store.step(run.id, step_id)
            outcome = executors[step_id].run(StepContext(store=engine.store, record=record, project_dir=project))
            assert outcome.status == StepStatus.PASSED, outcome.detail
        evidence = engine.store.evidence(run.id, "preflight.docs")
        assert [item["name"] for item in evidence] == ["readme-version.txt", "changelog-section.md"]
    finally:
        engine.close()


def _ctx(project: Path, **overrides) -> PreflightContext:
    runbook = load_runbook(project / "cutover.yaml")
    if overrides:
        runbook = runbook.model_copy(update=overrides)
    return PreflightContext(project_dir=project, runbook=runbook, at=datetime(2026, 11, 25, 15, tzinfo=UTC))


def test_window_not_enforced_only_informs(tmp_path: Path):
    project = make_release_repo(tmp_path)
    ctx = _ctx(project)
    ctx.runbook = ctx.runbook.model_copy(update={"window": ctx.runbook.window.model_copy(update={"enforce": False})})
    result = evaluate_gate(GateSpec("preflight.window", "Deployment window", "gate.window", blocking=False), ctx)
    assert result.status == GateStatus.SKIPPED and not result.blocking
    assert "not enforced" in result.detail


def test_missing_scan_path_fails_the_apex_gate(tmp_path: Path):
    project = make_release_repo(tmp_path)
    ctx = _ctx(project)
    spec = GateSpec("preflight.apex-security", "Apex", "gate.apex_scan", params={"scan_paths": ["nowhere"]})
    result = evaluate_gate(spec, ctx)
    assert result.status == GateStatus.FAILED and "scan path(s) not found: nowhere" in result.detail


def test_unknown_action_and_crashing_gate_fail_alone(tmp_path: Path, monkeypatch):
    project = make_release_repo(tmp_path)
    ctx = _ctx(project)
    assert "no preflight gate" in evaluate_gate(GateSpec("x.y", "X", "gate.nope"), ctx).detail
    from cutover.steps import preflight

    def boom(spec, ctx):
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(preflight.GATE_FUNCTIONS, "gate.contacts", boom)
    result = evaluate_gate(GateSpec("preflight.contacts", "Contacts", "gate.contacts"), ctx)
    assert result.status == GateStatus.FAILED and "internal error: RuntimeError: disk on fire" in result.detail


def _record_validation(project: Path, head: str | None, actual: str) -> str:
    runbook = load_runbook(project / "cutover.yaml")
    engine = Engine(project)
    try:
        run = engine.create_run("production", plan_to_specs(build_plan(runbook), runbook), git_head=head)
        validate = next(r for r in engine.steps(run.id) if r.spec.stage == "validate")
        ctx = StepContext(store=engine.store, record=validate, project_dir=project)
        criteria = [{"name": "Code coverage", "expected": "≥ 85%", "actual": actual, "ok": True}]
        ctx.record_evidence("validation-criteria.json", {"job_id": "0AfVALIDATION1", "criteria": criteria})
        return run.id
    finally:
        engine.close()


def test_apex_coverage_comes_from_the_latest_validation_of_this_commit(tmp_path: Path, capsys):
    from cutover.cli import main
    from cutover.steps import git_head

    project = make_release_repo(tmp_path)
    _record_validation(project, "0" * 40, "99.0%")  # another commit: ignored
    assert main(["-C", str(project), "preflight", "--format", "json", "--only", "apex-coverage", "--no-record"]) == 0
    gate = json.loads(capsys.readouterr().out)["gates"][0]
    assert gate["status"] == "skipped"
    run_id = _record_validation(project, git_head(project), "87.5%")
    main(["-C", str(project), "preflight", "--format", "json", "--only", "apex-coverage", "--no-record"])
    gate = json.loads(capsys.readouterr().out)["gates"][0]
    assert gate["status"] == "passed"
    assert gate["detail"] == f"Apex coverage 87.5% ≥ 85% (validation 0AfVALIDATION1 in run {run_id})"
    _record_validation(project, git_head(project), "80.1%")
    assert main(["-C", str(project), "preflight", "--format", "json", "--only", "apex-coverage", "--no-record"]) == 1
    gate = json.loads(capsys.readouterr().out)["gates"][0]
    assert gate["status"] == "failed" and gate["blocking"] is True and "80.1% < 85%" in gate["detail"]


def test_engine_executor_keeps_the_tail_of_a_failed_command(tmp_path: Path):
    import sys

    project = make_release_repo(tmp_path)
    script = "import sys; print('line one', file=sys.stderr); print('line two', file=sys.stderr); sys.exit(1)"
    runbook = load_runbook(project / "cutover.yaml")
    commands = runbook.project.commands.model_copy(update={"lint": [sys.executable, "-c", script]})
    runbook = runbook.model_copy(update={"project": runbook.project.model_copy(update={"commands": commands})})
    plan = build_plan(runbook)
    engine = Engine(project)
    try:
        run = engine.create_run("production", plan_to_specs(plan, runbook))
        services = StepServices(project_dir=project, target_org="production")
        executor = build_executors(plan, runbook, services, ["preflight.lint"])["preflight.lint"]
        record = engine.store.step(run.id, "preflight.lint")
        outcome = executor.run(StepContext(store=engine.store, record=record, project_dir=project))
        assert outcome.status == StepStatus.FAILED
        assert outcome.detail.splitlines()[1:] == ["    | line one", "    | line two"]
        assert outcome.data["output_tail"] == ["line one", "line two"]
    finally:
        engine.close()
