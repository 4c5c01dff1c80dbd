"""`cutover plan` / `cutover init` and build_plan: order, ids, JSON shape, custom steps, no side effects."""

from __future__ import annotations

import json
import re
import socket
import subprocess
from pathlib import Path

import pytest

from cutover.runbook import STAGES, parse_runbook, template_text
from cutover.runbook.plan import PlanStep, build_plan, build_rollback_plan

ACTIONS = {
    "gate.command",
    "gate.git",
    "gate.reviews",
    "gate.secrets",
    "gate.apex_scan",
    "gate.permission_sets",
    "gate.coverage",
    "gate.docs",
    "gate.window",
    "gate.contacts",
    "signoff",
    "checklist",
    "sf.guard",
    "sf.backup",
    "git.release",
    "git.push_release",
    "sf.validate",
    "sf.quick_deploy",
    "sf.verify_tests",
    "sf.verify_logs",
    "sf.verify_jobs",
    "sf.verify_permission_sets",
    "monitor.limits",
    "notify",
    "custom.command",
    "sf.rollback",
    "sf.rollback_destructive",
}
STEP_KEYS = {
    "id",
    "stage",
    "title",
    "kind",
    "action",
    "checks",
    "sf_command",
    "command",
    "params",
    "blocking",
    "role",
    "source",
}


def elaro(extra: str = "") -> object:
    return parse_runbook(template_text() + extra)


# --- build_plan --------------------------------------------------------------------------------------------------


def test_stages_come_in_the_seed_order_and_ids_are_unique_and_stable() -> None:
    runbook = elaro()
    steps = build_plan(runbook)
    order = [s.stage for s in steps]
    assert list(dict.fromkeys(order)) == list(STAGES)
    assert order == sorted(order, key=STAGES.index)  # no stage interleaves another
    ids = [s.id for s in steps + build_rollback_plan(runbook)]
    assert len(ids) == len(set(ids))
    for step_id in ids:
        assert re.fullmatch(r"[a-z_]+\.[a-z0-9]+(-[a-z0-9]+)*", step_id), step_id
    assert [s.id for s in build_plan(elaro())] == [s.id for s in steps]


def test_key_steps_have_the_sf_equivalent_with_the_target_org() -> None:
    steps = {s.id: s for s in build_plan(elaro())}
    assert steps["guard.org-identity"].sf_command == "sf org display --target-org production --json"
    validate = steps["validate.dry-run"].sf_command
    assert validate.startswith("sf project deploy start --target-org production --dry-run --test-level RunLocalTests")
    assert "--manifest manifest/package.xml" in validate
    assert steps["deploy.quick"].sf_command.startswith("sf project deploy quick --target-org production --job-id ")
    assert "sf project retrieve start --target-org production" in steps["backup.retrieve"].sf_command
    assert "--code-coverage" in steps["verify.apex-tests"].sf_command
    for step in steps.values():
        if step.sf_command:
            assert "--target-org production" in step.sf_command, step.id
        assert step.action in ACTIONS, step.id
        assert step.kind in ("automated", "signoff")
        assert step.checks, f"{step.id} checks nothing"


def test_every_signoff_names_a_role_and_every_preflight_signoff_is_planned() -> None:
    runbook = elaro()
    steps = build_plan(runbook)
    for step in steps:
        if step.kind == "signoff":
            assert step.role in runbook.roles, step.id
    planned = {s.id for s in steps}
    assert {f"signoff.{s.id}" for s in runbook.signoffs} <= planned
    smoke = [s for s in steps if s.id.startswith("verify.smoke-")]
    assert len(smoke) == 4 and {s.role for s in smoke} == {"qa_lead"}


def test_custom_steps_follow_their_stage_and_fewer_stages_shrink_the_plan() -> None:
    runbook = parse_runbook(
        "target: {alias: rehearsal}\n"
        "stages: [preflight, deploy, verify]\n"
        "signoffs: []\n"
        "custom_steps:\n"
        "  - {id: seed-data, title: Load data, after: deploy, run: [python, seed.py], timeout: 5m, idempotent: true}\n"
        "  - {id: warm, after: preflight, run: 'echo warm'}\n"
    )
    steps = build_plan(runbook)
    assert {s.stage for s in steps} == {"preflight", "deploy", "verify"}
    ids = [s.id for s in steps]
    assert ids.index("custom.warm") == max(i for i, s in enumerate(steps) if s.stage == "preflight")
    assert ids.index("custom.seed-data") == ids.index("deploy.quick") + 1
    custom = steps[ids.index("custom.seed-data")]
    assert custom.action == "custom.command" and custom.kind == "automated"
    assert custom.params == {
        "argv": ["python", "seed.py"],
        "timeout_seconds": 300,
        "idempotent": True,
        "env": {},
        "cwd": None,
    }
    assert "--target-org rehearsal" in steps[ids.index("deploy.quick")].sf_command


def test_thresholds_and_commands_flow_into_the_checks() -> None:
    runbook = parse_runbook(
        "target: {alias: prod}\nthresholds: {apex_coverage: 90, limits: {cpu: 60}}\n"
        "project: {commands: {lint: [eslint, force-app], test_all: null}}\n"
        "monitoring: {metrics: [{id: cpu, group: Limits, title: CPU time, check: limit, limit: cpu}]}\n"
    )
    steps = {s.id: s for s in build_plan(runbook)}
    assert "preflight.test-all" not in steps
    assert steps["preflight.lint"].params["argv"] == ["eslint", "force-app"]
    assert "Code coverage ≥ 90%" in steps["validate.dry-run"].checks
    assert any("CPU time < 60% of limit" in c for c in steps["monitor.limits"].checks)
    assert steps["monitor.limits"].params["thresholds"]["cpu"] == 60


def test_rollback_contingency_removes_what_the_release_added_and_recreates_jobs() -> None:
    rollback = {s.id: s for s in build_rollback_plan(elaro())}
    assert next(iter(rollback)) == "rollback.decide"
    assert "--metadata-dir <rollback-dir>/remove-added" in rollback["rollback.remove-added"].sf_command
    assert "rollback.scheduled-jobs" in rollback
    lean = build_rollback_plan(
        elaro("").model_copy(
            update={
                "rollback": elaro().rollback.model_copy(
                    update={"quick": elaro().rollback.quick.model_copy(update={"remove_added_components": False})}
                )
            }
        )
    )
    assert "rollback.remove-added" not in {s.id for s in lean}


def test_planstep_is_frozen() -> None:
    step = build_plan(elaro())[0]
    assert isinstance(step, PlanStep)
    with pytest.raises(AttributeError):
        step.title = "x"  # type: ignore[misc]


# --- CLI ------------------------------------------------------------------------------------------------------------


def test_init_then_plan_json_schema(project: Path, cli) -> None:
    assert cli("init", "--template", "elaro")[0] == 0
    code, out, _ = cli("plan", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert set(data) >= {"runbook", "target_org", "steps", "rollback", "problems"}
    assert data["target_org"] == "production"
    assert data["runbook"].endswith("cutover.yaml")
    assert data["problems"] and all(isinstance(p, str) for p in data["problems"])
    for number, step in enumerate(data["steps"], 1):
        assert step["number"] == number
        assert set(step) >= STEP_KEYS
        assert isinstance(step["checks"], list) and all(isinstance(c, str) for c in step["checks"])
        assert step["kind"] in ("automated", "signoff")
        assert isinstance(step["blocking"], bool)
    assert all(s["stage"] == "rollback" for s in data["rollback"])
    assert [i["id"] for i in data["known_issues"]] == ["large-data-volume", "pdf-timeout"]
    code, out2, _ = cli("plan", "--json")
    assert json.loads(out2)["steps"] == data["steps"]


def test_plan_text_shows_steps_commands_rollback_and_problems(project: Path, cli) -> None:
    cli("init", "--template", "elaro")
    code, out, _ = cli("plan")
    assert code == 0
    assert "== preflight" in out and "== post_deploy" in out and "== rollback" in out
    assert "$ sf project deploy quick --target-org production" in out
    assert "[sign-off: QA Lead]" in out
    assert "warning: target.expect" in out
    assert "Contacts:" in out and "Deployment Lead: TBD" in out
    assert re.search(r"(?m)^\s*1\. \[automated\]", out)


def test_plan_markdown(project: Path, cli) -> None:
    cli("init", "--template", "elaro")
    code, out, _ = cli("plan", "--format", "markdown")
    assert code == 0
    assert out.startswith("# Elaro production deployment")
    assert "- [ ] Load testing with 1000+ compliance records completed" in out
    assert "```bash\nsf org display --target-org production --json\n```" in out


def test_plan_stage_filter(project: Path, cli) -> None:
    cli("init", "--template", "elaro")
    code, out, _ = cli("plan", "--json", "--stage", "verify")
    data = json.loads(out)
    assert code == 0 and {s["stage"] for s in data["steps"]} == {"verify"} and data["rollback"] == []
    code, out, _ = cli("plan", "--json", "--stage", "rollback")
    data = json.loads(out)
    assert data["steps"] == [] and data["rollback"]
    code, _, err = cli("plan", "--stage", "deploy-ish")
    assert code == 2 and "unknown stage" in err


def test_plan_has_no_side_effects(project: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    cli("init", "--template", "elaro")
    before = sorted(p.name for p in project.iterdir())

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"plan tried to run or connect: {args!r}")

    monkeypatch.setattr(subprocess, "Popen", forbidden)
    monkeypatch.setattr(socket.socket, "connect", forbidden)
    for fmt in ("text", "json", "markdown"):
        code, _, err = cli("plan", "--format", fmt)
        assert code == 0, err
    assert sorted(p.name for p in project.iterdir()) == before == ["cutover.yaml"]
    assert not (project / ".cutover").exists()


def test_init_refuses_to_overwrite_without_force(project: Path, cli) -> None:
    path = project / "cutover.yaml"
    path.write_text("target: {alias: mine}\n")
    code, _, err = cli("init", "--template", "elaro")
    assert code == 2
    assert "already exists" in err and "--force" in err
    assert path.read_text() == "target: {alias: mine}\n"
    code, _out, _ = cli("init", "--template", "elaro", "--force")
    assert code == 0
    assert path.read_text() == template_text()


def test_init_target_org_and_C(tmp_path: Path, project: Path, cli) -> None:
    other = tmp_path / "other"
    other.mkdir()
    code, out, err = cli("-C", str(other), "init", "--template", "elaro", "--target-org", "prod-eu")
    assert code == 0, err
    assert not (project / "cutover.yaml").exists()
    code, out, _ = cli("-C", str(other), "plan", "--json")
    data = json.loads(out)
    assert data["target_org"] == "prod-eu"
    assert any("--target-org prod-eu" in (s["sf_command"] or "") for s in data["steps"])
    code, _, err = cli("-C", str(other), "init", "--template", "elaro", "--force", "--target-org", "bad alias;rm")
    assert code == 2 and "not a valid" in err


def test_init_output_is_valid_yaml_with_comments(project: Path, cli) -> None:
    code, out, _ = cli("init", "--template", "elaro")
    assert code == 0 and "Wrote" in out
    text = (project / "cutover.yaml").read_text()
    assert text.count("\n#") + text.count(" # ") > 40  # a commented template, not a dump


def test_plan_runbook_option_reads_another_file(project: Path, cli) -> None:
    (project / "rehearsal.yaml").write_text("target: {alias: rehearsal}\nstages: [guard]\n")
    code, out, err = cli("plan", "--runbook", "rehearsal.yaml", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["target_org"] == "rehearsal"
    assert [s["id"] for s in data["steps"]] == ["guard.org-identity"]


def test_plan_reports_a_folder_that_is_not_the_sfdx_project(project: Path, cli) -> None:
    cli("init", "--template", "elaro")
    data = json.loads(cli("plan", "--json")[1])
    assert any("sfdx-project.json" in p for p in data["problems"])
    assert any(p.startswith("project.manifest:") for p in data["problems"])
    (project / "sfdx-project.json").write_text('{"packageDirectories": [{"path": "force-app", "default": true}]}')
    (project / "force-app").mkdir()
    (project / "manifest").mkdir()
    (project / "manifest" / "package.xml").write_text("<Package/>")
    data = json.loads(cli("plan", "--json")[1])
    assert not any("sfdx-project.json" in p or p.startswith("project.") for p in data["problems"])


def test_init_print_schema_writes_nothing(project: Path, cli) -> None:
    code, out, _ = cli("init", "--print-schema")
    assert code == 0
    schema = json.loads(out)
    assert schema["required"] == ["target"]
    assert "thresholds" in schema["properties"] and "custom_steps" in schema["properties"]
    assert list(project.iterdir()) == []


def test_init_writes_a_file_others_can_read_and_keeps_the_mode_on_force(project: Path, cli) -> None:
    """The atomic write goes through a private temp file (mode 0600); the runbook must end up like any file the user
    writes (umask), and an overwrite keeps the mode the user gave it."""
    import os
    import stat

    old_umask = os.umask(0o022)
    try:
        assert cli("init", "--template", "elaro")[0] == 0
        path = project / "cutover.yaml"
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        path.chmod(0o640)
        assert cli("init", "--template", "elaro", "--force")[0] == 0
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    finally:
        os.umask(old_umask)


def test_init_into_a_folder_it_cannot_write_is_a_one_line_error(project: Path, cli, monkeypatch) -> None:
    import tempfile

    def refuse(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    code, _, err = cli("init", "--template", "elaro")
    assert code != 3 and "cutover.yaml" in err and "No space left on device" in err and "Traceback" not in err
    assert not (project / "cutover.yaml").exists()
