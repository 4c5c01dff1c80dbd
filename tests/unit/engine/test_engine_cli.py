"""The run commands through `cutover.cli.main`: status JSON, sign-off refusals, secrets never stored, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from engine_helpers import write_runbook

from cutover.cli import main

TOKEN = "00D000000000001AAA!AQ8.fake.token"

STEPS = f"""\
  - id: leak
    after: post_deploy
    run: [sh, -c, "echo token {TOKEN}; echo Authorization: Bearer {TOKEN} >&2; echo line >> side.txt"]
  - id: second
    after: post_deploy
    run: [sh, -c, "echo second >> side.txt"]
"""

SIGNOFFS = """
  - {id: notes, title: Deployment notes documented, role: deployment_lead, stage: post_deploy}
  - {id: security-review, title: Security review completed, role: security_reviewer, stage: post_deploy}
"""


def cutover(project: Path, *args: str) -> int:
    return main(["-C", str(project), *args])


def test_status_json_has_the_documented_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_runbook(tmp_path, STEPS)
    assert cutover(tmp_path, "run", "--yes") == 0
    capsys.readouterr()
    assert cutover(tmp_path, "status", "--format", "json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["state"] == "succeeded" and doc["target_org"] == "rehearsal"
    assert doc["run_id"].count("-") == 2 and len(doc["run_id"]) == len("20261127-170501-ab12")
    assert [(s["id"], s["status"]) for s in doc["steps"]] == [
        ("post_deploy.checklist-1w", "waiting_signoff"),  # non-blocking follow-up: the run did not wait
        ("custom.leak", "passed"),
        ("custom.second", "passed"),
    ]
    assert doc["steps"][1]["evidence"] == 2
    assert (tmp_path / "side.txt").read_text() == "line\nsecond\n"


def test_an_access_token_never_reaches_the_state_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_runbook(tmp_path, STEPS, signoffs=SIGNOFFS)
    assert cutover(tmp_path, "signoff", "notes", "--by", "alice", "--role", "deployment_lead", "--note", TOKEN) == 0
    assert cutover(tmp_path, "run", "--yes") == 4  # paused on the security review
    assert (
        cutover(tmp_path, "waive", "signoff.security-review", "--reason", f"see {TOKEN}", "--approver", "Dana Lead")
        == 0
    )
    assert cutover(tmp_path, "resume") == 0
    assert cutover(tmp_path, "audit", "verify") == 0
    out = capsys.readouterr()
    assert TOKEN not in out.out + out.err
    files = [p for p in (tmp_path / ".cutover").rglob("*") if p.is_file()]
    assert any(p.name == "state.db" for p in files) and any(p.name.endswith(".stderr.txt") for p in files)
    for path in files:
        data = path.read_bytes()
        assert b"AQ8.fake.token" not in data, path
        assert b"00D000000000001AAA!" not in data, path
    stderr_evidence = next(p for p in files if p.name == "run.stderr.txt")
    assert stderr_evidence.read_text() == "Authorization: Bearer [REDACTED]\n"


def test_signoff_refuses_one_person_in_two_exclusive_roles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exclusive = "separation_of_duties: {exclusive: [[deployment_lead, security_reviewer]]}"
    write_runbook(tmp_path, STEPS, signoffs=SIGNOFFS, extra=exclusive)
    assert cutover(tmp_path, "signoff", "signoff.notes", "--by", "alex", "--role", "deployment_lead") == 0
    capsys.readouterr()
    code = cutover(tmp_path, "signoff", "security-review", "--by", "alex", "--role", "security_reviewer")
    assert code == 1
    assert (
        "alex already signed as deployment_lead; the runbook requires deployment_lead and security_reviewer "
        "to be different people"
    ) in capsys.readouterr().err
    assert cutover(tmp_path, "signoff", "security-review", "--by", "alex", "--role", "qa_lead") == 2
    assert cutover(tmp_path, "signoff", "security-review", "--by", "sam", "--role", "security_reviewer") == 0
    assert cutover(tmp_path, "run", "--yes") == 0  # both sign-offs given before the run reached them


def test_paused_run_names_the_unblocking_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_runbook(tmp_path, STEPS, signoffs=SIGNOFFS)
    assert cutover(tmp_path, "run", "--yes", "--format", "json") == 4
    captured = capsys.readouterr()
    assert json.loads(captured.out)["state"] == "paused"
    assert (
        "waiting for sign-off: Deployment notes documented — run: cutover signoff signoff.notes --by <name> "
        "--role deployment_lead"
    ) in captured.err
    assert "cutover resume" in captured.err
    assert not (tmp_path / "side.txt").exists()


def test_run_refuses_when_a_step_has_no_executor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cutover.steps import registry

    registry.load_builtin_executors()
    monkeypatch.delitem(registry._REGISTRY, "sf.backup", raising=False)  # as if the backup stage were not built yet
    write_runbook(tmp_path, STEPS.replace("post_deploy", "backup"), stages="[backup, post_deploy]")
    assert cutover(tmp_path, "run", "--yes") == 2
    err = capsys.readouterr().err
    assert "no executor for action(s)" in err and "backup.retrieve" in err and "--until" in err
    assert cutover(tmp_path, "runs", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out) == []  # refused before creating a run


def test_unknown_stage_in_only_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_runbook(tmp_path, STEPS)
    assert cutover(tmp_path, "run", "--yes", "--only", "deploy,nope") == 2
    assert "unknown stage(s) nope" in capsys.readouterr().err


def test_an_edited_runbook_re_plans_only_the_changed_steps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_runbook(tmp_path, STEPS, signoffs=SIGNOFFS)
    assert cutover(tmp_path, "signoff", "notes", "--by", "alice", "--role", "deployment_lead") == 0
    assert cutover(tmp_path, "run", "--yes") == 4  # paused on the security review
    path = tmp_path / "cutover.yaml"
    edited = path.read_text().replace("echo second >> side.txt", "echo second, edited >> side.txt")
    edited += """  - id: third
    after: post_deploy
    run: [sh, -c, "echo third >> side.txt"]
"""
    path.write_text(edited)
    capsys.readouterr()
    assert cutover(tmp_path, "resume") == 4  # still waiting for the security review, nothing else asked again
    err = capsys.readouterr().err
    assert "re-planned" in err and "reset to pending: custom.second" in err and "added: custom.third" in err
    assert cutover(tmp_path, "signoff", "security-review", "--by", "sam", "--role", "security_reviewer") == 0
    assert cutover(tmp_path, "resume") == 0
    assert (tmp_path / "side.txt").read_text().splitlines()[-2:] == ["second, edited", "third"]
    assert cutover(tmp_path, "audit", "verify") == 0
    capsys.readouterr()
    assert cutover(tmp_path, "audit", "log", "--format", "json") == 0
    events = json.loads(capsys.readouterr().out)
    replanned = [e for e in events if e["type"] == "run.replanned"]
    assert len(replanned) == 1
    payload = replanned[0]["payload"]
    assert payload["old_runbook_sha256"] != payload["new_runbook_sha256"]
    assert "signoff.notes" in payload["kept"] and payload["dropped_signoffs"] == []
    notes_signed = [e for e in events if e["type"] == "signoff.recorded" and e["step_id"] == "signoff.notes"]
    assert len(notes_signed) == 1 and len(notes_signed[0]["payload"]["definition"]) == 64


def test_a_changed_sign_off_step_must_be_signed_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_runbook(tmp_path, STEPS, signoffs=SIGNOFFS)
    assert cutover(tmp_path, "signoff", "notes", "--by", "alice", "--role", "deployment_lead") == 0
    path = tmp_path / "cutover.yaml"
    path.write_text(path.read_text().replace("Deployment notes documented", "Deployment notes documented and linked"))
    capsys.readouterr()
    assert cutover(tmp_path, "run", "--yes") == 4
    err = capsys.readouterr().err
    assert "sign-offs/waivers to give again (their step changed): signoff.notes (alice)" in err
    assert "waiting for sign-off: Deployment notes documented and linked" in err


def test_retry_and_failed_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    steps = """\
  - id: flaky
    after: post_deploy
    run: [sh, -c, "test -f fixed || {{ echo not yet >&2; exit 3; }}"]
"""
    write_runbook(tmp_path, steps.replace("{{", "{").replace("}}", "}"))
    assert cutover(tmp_path, "run", "--yes") == 1
    err = capsys.readouterr().err
    assert "step custom.flaky (flaky) failed: exit code 3: not yet" in err and "cutover status" in err
    assert cutover(tmp_path, "resume") == 2  # a failed run is not resumed blindly
    (tmp_path / "fixed").touch()
    assert cutover(tmp_path, "retry", "flaky") == 0
    assert cutover(tmp_path, "resume") == 0
    capsys.readouterr()
    assert cutover(tmp_path, "status", "--format", "json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["state"] == "succeeded"
    assert [s["attempt"] for s in doc["steps"] if s["id"] == "custom.flaky"] == [2]


def test_commands_without_runs_say_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cutover(tmp_path, "status") == 2
    assert "no runs yet" in capsys.readouterr().err
    assert cutover(tmp_path, "runs") == 0
    assert cutover(tmp_path, "lock", "status") == 0


def test_resume_refuses_when_the_commit_changed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )

    write_runbook(tmp_path, STEPS, signoffs=SIGNOFFS)
    git("init", "-q")
    git("add", "cutover.yaml")
    git("commit", "-qm", "release")
    assert cutover(tmp_path, "run", "--yes") == 4
    (tmp_path / "late.txt").write_text("a late change\n")
    git("add", "late.txt")
    git("commit", "-qm", "late change")
    capsys.readouterr()
    assert cutover(tmp_path, "resume") == 2
    assert "was created for" in capsys.readouterr().err
    assert cutover(tmp_path, "run", "--yes") == 2


def test_a_production_run_needs_confirmation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_runbook(tmp_path, STEPS)
    path = tmp_path / "cutover.yaml"
    path.write_text(path.read_text().replace("production: false", "production: true"))
    assert cutover(tmp_path, "run") == 2  # stdin is not a terminal here: no silent yes
    err = capsys.readouterr().err
    assert "needs confirmation" in err and "--yes" in err
    assert not (tmp_path / "side.txt").exists()
    assert main(["-C", str(tmp_path), "--yes", "run"]) == 0  # the global --yes works too
    assert (tmp_path / "side.txt").read_text() == "line\nsecond\n"


def test_waiving_the_backup_needs_accept_no_rollback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cutover.commands.run import create_run, load_project
    from cutover.engine import Engine
    from cutover.steps import plan_to_specs

    write_runbook(tmp_path, "  []", stages="[backup, deploy]")
    project = load_project(tmp_path)
    engine = Engine(tmp_path)
    run = create_run(engine, project, plan_to_specs(project.plan, project.runbook))
    engine.close()
    waive = ["waive", "backup.retrieve", "--reason", "retrieve is broken", "--approver", "Dana Lead"]
    assert cutover(tmp_path, *waive) == 2
    err = capsys.readouterr().err
    assert f"waiving backup.retrieve disables the rollback of run {run.id}" in err and "--accept-no-rollback" in err
    assert cutover(tmp_path, *waive, "--accept-no-rollback") == 0
    captured = capsys.readouterr()
    assert "backup.retrieve waived by Dana Lead" in captured.out
    assert f"warning: run {run.id} can no longer be rolled back by cutover (backup.retrieve waived)" in captured.err


def test_preflight_after_an_edit_re_plans_and_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_runbook(tmp_path, "  []", stages="[preflight]")
    assert cutover(tmp_path, "preflight") == 1  # the gates fail here (no git, no npm): recorded all the same
    first = capsys.readouterr().out
    run_id = first.split("recorded in run ")[1].split()[0]
    path = tmp_path / "cutover.yaml"
    signoff = "signoffs:\n  - {id: go, title: Go decision, role: deployment_lead, stage: preflight}"
    path.write_text(path.read_text().replace("signoffs: []", signoff))
    assert cutover(tmp_path, "preflight") == 1
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert f"recorded in run {run_id}" in out and "not recorded" not in out
    assert "re-planned; kept " in out and "reset 0, added 1, removed 0" in out and "added: signoff.go" in out
