"""Signed sign-offs through the CLI, with real ed25519 keys: who signed is the key's owner, never a typed name."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from signing_helpers import cutover, fingerprint, public, sign_all_but, write_runbook

from cutover.engine import Engine


def status(project: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert cutover(project, "status", "--format", "json") == 0
    return json.loads(capsys.readouterr().out)


def signoffs_of(doc: dict, step: str) -> list[dict]:
    return next(s for s in doc["steps"] if s["id"] == step).get("signoffs", [])


def test_a_signed_signoff_records_the_verified_signer_fingerprint_and_statement(
    tmp_path: Path, keys: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    write_runbook(tmp_path, keys)
    assert (
        cutover(
            tmp_path,
            "signoff",
            "notes",
            "--by",
            "Dana Lead",
            "--role",
            "deployment_lead",
            "--key",
            str(keys["dana"]),
            "--evidence",
            "cutover.yaml",
        )
        == 0
    )
    assert cutover(tmp_path, "signoff", "security-review", "--by", "Sam Secure", "--role", "security_reviewer") == 0
    [signed] = signoffs_of(status(tmp_path, capsys), "signoff.notes")
    assert (signed["by"], signed["signer"], signed["fingerprint"]) == (
        "Dana Lead",
        "Dana Lead",
        fingerprint(keys["dana"]),
    )
    [unsigned] = signoffs_of(status(tmp_path, capsys), "signoff.security-review")
    assert unsigned["signer"] is None and unsigned["fingerprint"] is None  # optional: recorded as unsigned
    assert cutover(tmp_path, "status") == 0
    table = capsys.readouterr().out
    assert "[Dana Lead (deployment_lead, signed)]" in table and "[Sam Secure (security_reviewer)]" in table
    # The statement and its signature are evidence, and verify again with ssh-keygen alone.
    folder = next((tmp_path / ".cutover" / "runs").iterdir()) / "evidence" / "signoff.notes"
    [statement] = folder.glob("*.statement.json")
    [signature] = folder.glob("*.sig")
    allowed = tmp_path / "allowed"
    allowed.write_text(f"dana {public(keys['dana'])}\n")
    check = subprocess.run(
        ["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", "dana", "-n", "cutover-signoff", "-s", str(signature)],
        input=statement.read_bytes(),
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    doc = json.loads(statement.read_text())
    run_id = doc["run"]
    assert (doc["step"], doc["role"], doc["by"], doc["version"]) == ("signoff.notes", "deployment_lead", "Dana Lead", 1)
    assert doc["evidence_sha256"] and doc["runbook_sha256"] and doc["audit_head"] and doc["definition"]
    engine = Engine(tmp_path)
    try:
        [logged] = engine.store.logged_signoffs(run_id, "signoff.notes")
        assert logged.signer == "Dana Lead" and logged.fingerprint == fingerprint(keys["dana"])
        assert logged.statement_sha256 and len(logged.statement_sha256) == 64
    finally:
        engine.close()
    assert cutover(tmp_path, "audit", "verify") == 0


def test_a_key_the_runbook_does_not_list_is_refused(
    tmp_path: Path, keys: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    write_runbook(tmp_path, keys)
    code = cutover(
        tmp_path, "signoff", "notes", "--by", "Dana Lead", "--role", "deployment_lead", "--key", str(keys["mallory"])
    )
    assert code == 1
    err = capsys.readouterr().err
    assert f"the key {fingerprint(keys['mallory'])} is not listed in the runbook" in err
    engine = Engine(tmp_path)
    try:
        assert engine.runs() == []  # refused before a planned run was created for it
    finally:
        engine.close()
    # With a run, refused the same (this time by the full verification of the signature).
    assert cutover(tmp_path, "signoff", "notes", "--by", "Dana Lead", "--role", "deployment_lead") == 0
    (tmp_path / "stray.pub").write_text("")  # no public half at hand: the signature itself decides
    stray = tmp_path / "stray"
    stray.write_bytes(keys["mallory"].read_bytes())
    stray.chmod(0o600)
    code = cutover(tmp_path, "signoff", "qa", "--by", "Quinn QA", "--role", "qa_lead", "--key", str(stray))
    assert code == 1
    assert f"the key {fingerprint(keys['mallory'])} is not listed in the runbook" in capsys.readouterr().err
    assert signoffs_of(status(tmp_path, capsys), "signoff.qa") == []


def test_a_forged_name_with_someone_elses_key_is_refused(
    tmp_path: Path, keys: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    write_runbook(tmp_path, keys)
    code = cutover(
        tmp_path,
        "signoff",
        "security-review",
        "--by",
        "Sam Secure",
        "--role",
        "security_reviewer",
        "--key",
        str(keys["dana"]),
    )
    assert code == 1
    assert f"the key {fingerprint(keys['dana'])} belongs to Dana Lead, not Sam Secure" in capsys.readouterr().err
    # Dana's own name with her key, but a role whose keys are someone else's: refused too.
    code = cutover(
        tmp_path,
        "signoff",
        "security-review",
        "--by",
        "Dana Lead",
        "--role",
        "security_reviewer",
        "--key",
        str(keys["dana"]),
    )
    assert code == 1
    assert "Dana Lead is not named for role security_reviewer" in capsys.readouterr().err
    assert signoffs_of(status(tmp_path, capsys), "signoff.security-review") == []


def test_separation_of_duties_holds_on_the_verified_identity(
    tmp_path: Path, keys: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # Sam's key is listed again in allowed_signers under another name; Mallory's key under two names on one line.
    (tmp_path / "allowed_signers").write_text(
        f'"Sammy Alias" {public(keys["sam"])}\n"Mal One,Mal Two" {public(keys["mallory"])}\n'
    )
    write_runbook(tmp_path, keys)
    text = (tmp_path / "cutover.yaml").read_text()
    text = text.replace("  signatures: optional\n", "  signatures: optional\n  allowed_signers: allowed_signers\n")
    (tmp_path / "cutover.yaml").write_text(text)
    # Sam signs the security review by email: the recorded person is the key's owner as the runbook names him.
    assert (
        cutover(
            tmp_path,
            "signoff",
            "security-review",
            "--by",
            "sam@example.com",
            "--role",
            "security_reviewer",
            "--key",
            str(keys["sam"]),
        )
        == 0
    )
    assert [s["by"] for s in signoffs_of(status(tmp_path, capsys), "signoff.security-review")] == ["Sam Secure"]
    # So he cannot sign the exclusive role unsigned under his runbook name...
    assert cutover(tmp_path, "signoff", "go", "--by", "Sam Secure", "--role", "release_manager") == 1
    assert "Sam Secure already signed as security_reviewer" in capsys.readouterr().err
    # ...nor with his key under the other name: a key is the first person listed for it (the runbook's keys first).
    code = cutover(
        tmp_path, "signoff", "go", "--by", "Sammy Alias", "--role", "release_manager", "--key", str(keys["sam"])
    )
    assert code == 1
    assert f"the key {fingerprint(keys['sam'])} belongs to Sam Secure, not Sammy Alias" in capsys.readouterr().err
    # One key listed for two names counts as one person: the second name is refused on the same step.
    assert (
        cutover(
            tmp_path, "signoff", "go", "--by", "Mal One", "--role", "release_manager", "--key", str(keys["mallory"])
        )
        == 0
    )
    code = cutover(
        tmp_path, "signoff", "go", "--by", "Mal Two", "--role", "release_manager", "--key", str(keys["mallory"])
    )
    assert code == 1
    assert f"the key {fingerprint(keys['mallory'])} already signed signoff.go (as Mal One)" in capsys.readouterr().err
    assert [s["signer"] for s in signoffs_of(status(tmp_path, capsys), "signoff.go")] == ["Mal One"]


def test_signatures_required_refuses_an_unsigned_signoff_and_the_run_continues_signed(
    tmp_path: Path, keys: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    write_runbook(tmp_path, keys, signatures="required")
    assert cutover(tmp_path, "signoff", "notes", "--by", "Dana Lead", "--role", "deployment_lead") == 1
    err = capsys.readouterr().err
    assert "needs a signed sign-off (separation_of_duties.signatures: required)" in err and "--key" in err
    assert cutover(tmp_path, "run", "--yes") == 4
    assert "--key <your-ssh-key>" in capsys.readouterr().err  # the unblocking command says how
    sign_all_but(tmp_path, keys)
    assert cutover(tmp_path, "resume") == 0
    assert (tmp_path / "after.txt").read_text() == "after\n"


def test_switching_to_required_drops_unsigned_signoffs(
    tmp_path: Path, keys: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    write_runbook(tmp_path, keys)
    assert cutover(tmp_path, "signoff", "notes", "--by", "Dana Lead", "--role", "deployment_lead") == 0
    write_runbook(tmp_path, keys, signatures="required")
    assert cutover(tmp_path, "run", "--yes") == 4
    err = capsys.readouterr().err
    assert "sign-offs/waivers to give again (their step changed): signoff.notes (Dana Lead)" in err
    assert signoffs_of(status(tmp_path, capsys), "signoff.notes") == []


def test_a_missing_ssh_keygen_is_one_line_exit_6(
    tmp_path: Path, keys: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_runbook(tmp_path, keys)
    monkeypatch.setenv("CUTOVER_SSH_KEYGEN", str(tmp_path / "no-such-ssh-keygen"))
    code = cutover(
        tmp_path, "signoff", "notes", "--by", "Dana Lead", "--role", "deployment_lead", "--key", str(keys["dana"])
    )
    assert code == 6
    err = capsys.readouterr().err
    assert "no-such-ssh-keygen not found: signed sign-offs need OpenSSH's ssh-keygen" in err
    assert "Traceback" not in err


def test_a_key_file_that_does_not_exist_is_a_usage_error(
    tmp_path: Path, keys: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    write_runbook(tmp_path, keys)
    code = cutover(
        tmp_path, "signoff", "notes", "--by", "Dana Lead", "--role", "deployment_lead", "--key", str(tmp_path / "nope")
    )
    assert code == 2 and "no such file" in capsys.readouterr().err


def test_signing_through_the_ssh_agent_with_a_pub_key(
    tmp_path: Path, keys: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    if shutil.which("ssh-agent") is None or shutil.which("ssh-add") is None:
        pytest.skip("ssh-agent / ssh-add not installed")
    socket = tmp_path / "agent.sock"
    agent = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(socket)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(100):
            if socket.exists():
                break
            subprocess.run(["sleep", "0.05"], check=False)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(socket))
        added = subprocess.run(["ssh-add", str(keys["quinn"])], capture_output=True, timeout=30, check=False)
        assert added.returncode == 0, added.stderr
        write_runbook(tmp_path, keys)
        pub = tmp_path / "pubs" / "id_quinn.pub"  # no private key next to it: only the agent can sign
        pub.parent.mkdir()
        pub.write_text(public(keys["quinn"]) + "\n")
        assert cutover(tmp_path, "signoff", "qa", "--by", "Quinn QA", "--role", "qa_lead", "--key", str(pub)) == 0
        [signed] = signoffs_of(status(tmp_path, capsys), "signoff.qa")
        assert signed["signer"] == "Quinn QA" and signed["fingerprint"] == fingerprint(keys["quinn"])
        # Without the agent (and no private key next to it), a .pub key cannot sign: a clear refusal, not a hang.
        monkeypatch.setenv("SSH_AUTH_SOCK", str(tmp_path / "no-agent"))
        lonely = tmp_path / "lonely" / "id_rae.pub"
        lonely.parent.mkdir()
        lonely.write_text(public(keys["rae"]) + "\n")
        code = cutover(tmp_path, "signoff", "qa", "--by", "Rae QA", "--role", "qa_lead", "--key", str(lonely))
        assert code == 2 and "could not sign with" in capsys.readouterr().err
    finally:
        agent.terminate()
        agent.wait(timeout=10)


def test_announce_leaves_a_required_signature_to_the_sender(
    tmp_path: Path, keys: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    notify = (
        "  - {id: stakeholder-notification, title: Stakeholders notified, role: deployment_lead, stage: post_deploy}"
    )
    write_runbook(tmp_path, keys, signatures="required")
    path = tmp_path / "cutover.yaml"
    path.write_text(path.read_text().replace("signoffs:\n", f"signoffs:\n{notify}\n", 1))
    assert cutover(tmp_path, "announce", "--by", "Dana Lead") == 0
    out = capsys.readouterr().out
    assert "sign it: cutover signoff signoff.stakeholder-notification --by 'Dana Lead' --role deployment_lead" in out
    assert signoffs_of(status(tmp_path, capsys), "signoff.stakeholder-notification") == []
    assert (
        cutover(
            tmp_path,
            "signoff",
            "stakeholder-notification",
            "--by",
            "Dana Lead",
            "--role",
            "deployment_lead",
            "--key",
            str(keys["dana"]),
        )
        == 0
    )
    [signed] = signoffs_of(status(tmp_path, capsys), "signoff.stakeholder-notification")
    assert signed["signer"] == "Dana Lead"
