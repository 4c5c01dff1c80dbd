"""Signing from another machine: a second clone of the project (no `.cutover/`) signs for the run by id, and the
statement reaches the run by file (`cutover signoff import`) or through `refs/cutover/signoffs/<run>` on the git
remote (fetched by `cutover resume` / `cutover status`). Replayed or stale statements are refused with the reason."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from signing_helpers import cutover, fingerprint, sign_all_but, write_runbook

from cutover.commands.run import _rules, load_project
from cutover.engine import Engine
from cutover.errors import Failure
from cutover.signing.intake import accept
from cutover.signing.statement import Envelope


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def two_clones(tmp_path: Path, keys: dict[str, Path]) -> tuple[Path, Path]:
    """The release manager's clone `a` (where the run is) and the QA lead's clone `b`, of one bare origin."""
    origin, a = tmp_path / "origin.git", tmp_path / "a"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    a.mkdir()
    git(a, "init", "-q", "-b", "main")
    write_runbook(a, keys)
    (a / ".gitignore").write_text(".cutover/\nafter.txt\n")
    git(a, "add", "cutover.yaml", ".gitignore")
    git(a, "commit", "-q", "-m", "runbook")
    git(a, "remote", "add", "origin", str(origin))
    git(a, "push", "-q", "origin", "main")
    git(tmp_path, "clone", "-q", str(origin), "b")
    return a, tmp_path / "b"


def paused_at_qa(a: Path, keys: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> str:
    sign_all_but(a, keys, "qa")
    assert cutover(a, "run", "--yes") == 4
    capsys.readouterr()
    assert cutover(a, "status", "--format", "json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["note"].startswith("waiting for sign-off: QA sign-off")
    return doc["run_id"]


def sign_qa(b: Path, keys: dict[str, Path], run_id: str | None, *extra: str, who: str = "quinn") -> int:
    """`cutover signoff qa` in clone `b` by Quinn (or Rae), with `who`'s key, for `run_id`."""
    by = {"quinn": "Quinn QA", "rae": "Rae QA"}.get(who, "Quinn QA")
    run = ("--run", run_id) if run_id else ()
    return cutover(b, "signoff", "qa", "--by", by, "--role", "qa_lead", "--key", str(keys[who]), *run, *extra)


def test_a_signer_on_another_clone_pushes_and_resume_fetches_and_continues(
    tmp_path: Path, keys: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = two_clones(tmp_path, keys)
    run_id = paused_at_qa(a, keys, capsys)
    assert sign_qa(b, keys, run_id, "--push") == 0
    assert f"pushed to origin refs/cutover/signoffs/{run_id}" in capsys.readouterr().out
    assert not (b / ".cutover").exists()  # the signer needs no run state
    assert git(a, "ls-remote", "origin", f"refs/cutover/signoffs/{run_id}").strip()
    assert cutover(a, "resume") == 0
    err = capsys.readouterr().err
    assert (
        "imported from origin: Quinn QA signed signoff.qa as qa_lead "
        f"(verified signer Quinn QA, key {fingerprint(keys['quinn'])})"
    ) in err
    assert (a / "after.txt").read_text() == "after\n"
    # A second fetch imports nothing again (the statement counts once, silently).
    assert cutover(a, "status") == 0
    assert "imported" not in capsys.readouterr().err
    engine = Engine(a)
    try:
        [qa] = engine.store.logged_signoffs(run_id, "signoff.qa")
        assert (qa.by, qa.signer, qa.fingerprint) == ("Quinn QA", "Quinn QA", fingerprint(keys["quinn"]))
    finally:
        engine.close()


def test_status_fetches_and_a_second_push_adds_to_the_ref(
    tmp_path: Path, keys: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = two_clones(tmp_path, keys)
    run_id = paused_at_qa(a, keys, capsys)
    assert sign_qa(b, keys, run_id, "--push") == 0
    # Rae signs the same step from a third clone: her push adds to the ref the first one made.
    git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), "c")
    assert sign_qa(tmp_path / "c", keys, run_id, "--push", who="rae") == 0
    capsys.readouterr()
    capsys.readouterr()
    assert cutover(a, "status") == 0
    err = capsys.readouterr().err
    assert err.count("imported from origin:") == 2 and "Rae QA signed signoff.qa" in err
    files = git(a, "ls-tree", "-r", "--name-only", f"refs/cutover/signoffs/{run_id}").split()
    assert len(files) == 2 and all(f.startswith("signoff.qa/") and f.endswith(".json") for f in files)


def test_output_file_import_and_every_replay_refused(
    tmp_path: Path, keys: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = two_clones(tmp_path, keys)
    run_id = paused_at_qa(a, keys, capsys)
    statement = tmp_path / "qa.json"
    assert sign_qa(b, keys, run_id, "--output", str(statement)) == 0
    assert not (b / ".cutover").exists()
    # Without the run's state, the statement binds the audit head the run anchored in git notes on the remote.
    signed = json.loads(json.loads(statement.read_text())["statement"])
    engine = Engine(a)
    try:
        assert signed["audit_head"] in {e.hash for e in engine.events(run_id)}
        assert signed["commit"] == engine.resolve_run(run_id).git_head
    finally:
        engine.close()
    other_run = tmp_path / "other-run.json"
    assert sign_qa(b, keys, "20261206-000000-beef", "--output", str(other_run)) == 0

    # The evidence file it names differs on the run's machine: refused.
    (b / "load-test.txt").write_text("p95 180 ms\n")
    (a / "load-test.txt").write_text("p95 950 ms\n")
    evidenced = tmp_path / "evidenced.json"
    assert sign_qa(b, keys, run_id, "--evidence", "load-test.txt", "--output", str(evidenced)) == 0
    capsys.readouterr()
    assert cutover(a, "signoff", "import", str(evidenced)) == 1
    assert "the evidence file load-test.txt here differs from the one signed" in capsys.readouterr().err

    # Another run: refused with the reason.
    capsys.readouterr()
    assert cutover(a, "signoff", "import", str(other_run), "--run", run_id) == 1
    assert f"the statement is for run 20261206-000000-beef, not run {run_id}" in capsys.readouterr().err

    # Edited after signing (the note): the signature no longer verifies.
    envelope = json.loads(statement.read_text())
    doc = json.loads(envelope["statement"])
    doc["note"] = "tested everything"
    envelope["statement"] = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(envelope))
    assert cutover(a, "signoff", "import", str(forged)) == 1
    assert "does not verify" in capsys.readouterr().err

    # Another step: a statement delivered for signoff.notes names signoff.qa.
    project = load_project(a)
    engine = Engine(a)
    try:
        run = engine.resolve_run(run_id)
        with pytest.raises(Failure, match=r"the statement is for step signoff\.qa, not signoff\.notes"):
            accept(
                engine,
                run,
                Envelope.read(statement),
                runbook=project.runbook,
                project_dir=a,
                rules=_rules(project),
                step="signoff.notes",
            )
    finally:
        engine.close()

    # The step changed since it was signed: refused; signed again over the new definition: accepted.
    write_runbook(a, keys, qa_title="QA sign-off (with the load test)")
    assert cutover(a, "signoff", "import", str(statement)) == 1
    assert "was signed over another definition of signoff.qa" in capsys.readouterr().err
    write_runbook(b, keys, qa_title="QA sign-off (with the load test)")
    again = tmp_path / "qa-again.json"
    assert sign_qa(b, keys, run_id, "--output", str(again)) == 0
    assert cutover(a, "signoff", "import", str(again)) == 0
    assert "imported: Quinn QA signed signoff.qa as qa_lead (verified signer Quinn QA" in capsys.readouterr().out

    # The same statement a second time: refused.
    assert cutover(a, "signoff", "import", str(again)) == 1
    assert "was already recorded in run" in capsys.readouterr().err
    assert cutover(a, "resume") == 0
    assert (a / "after.txt").read_text() == "after\n"


def test_a_signer_with_an_unlisted_key_is_refused_before_anything_travels(
    tmp_path: Path, keys: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, b = two_clones(tmp_path, keys)
    out = tmp_path / "mallory.json"
    code = sign_qa(b, keys, "20261206-000000-beef", "--output", str(out), who="mallory")
    assert code == 1 and not out.exists()
    assert f"the key {fingerprint(keys['mallory'])} is not listed" in capsys.readouterr().err
    assert sign_qa(b, keys, None, "--output", str(out)) == 2
    assert "add --run RUN" in capsys.readouterr().err
