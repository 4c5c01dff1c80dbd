"""The parts of signed sign-offs: runbook key validation, fingerprints, signature parsing, the canonical statement,
the key ring, verification refusals (real keys, real ssh-keygen)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from signing_helpers import fingerprint, public, write_runbook

from cutover.errors import Failure, UsageError
from cutover.runbook import RunbookError, load_runbook, parse_runbook
from cutover.signing import sshkeygen
from cutover.signing.keys import file_principals, key_blob, keyring, signature_info
from cutover.signing.keys import fingerprint as blob_fingerprint
from cutover.signing.statement import Envelope, Statement, new_statement
from cutover.signing.verify import verify_envelope


def statement(**changes: object) -> Statement:
    fields: dict = dict(
        run="20261206-010000-abcd",
        step="signoff.qa",
        definition="d" * 64,
        role="qa_lead",
        by="Quinn QA",
        note=None,
        evidence=None,
        evidence_sha256=None,
        runbook_sha256="r" * 64,
        commit=None,
        audit_head=None,
        at="2026-12-06T01:00:00Z",
    )
    fields.update(changes)
    return new_statement(**fields)


def test_fingerprints_match_ssh_keygen(keys: dict[str, Path]) -> None:
    assert blob_fingerprint(key_blob(public(keys["dana"]))) == fingerprint(keys["dana"])
    signed = sshkeygen.sign(b"hello", keys["dana"])
    info = signature_info(signed)
    assert info.fingerprint == fingerprint(keys["dana"]) and info.namespace == "cutover-signoff"


@pytest.mark.parametrize(
    ("armored", "message"),
    [
        ("not a signature", "is not an SSH signature"),
        ("-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----", "damaged"),
        ("-----BEGIN SSH SIGNATURE-----\n!!!!\n-----END SSH SIGNATURE-----", "damaged"),
    ],
)
def test_a_damaged_signature_is_a_clear_error(armored: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        signature_info(armored)


def test_runbook_keys_are_validated_with_their_location(tmp_path: Path, keys: dict[str, Path]) -> None:
    path = write_runbook(tmp_path, keys)
    assert load_runbook(path).roles["qa_lead"].people[0].signing_keys == [public(keys["quinn"])]
    text = path.read_text()
    cases = {
        public(keys["quinn"]): ("ssh-ed25519 nonsense!", "roles.qa_lead.people[0].signing_keys", "not valid base64"),
        "ssh-ed25519": ("ssh-rsa", "roles.qa_lead.people[0].signing_keys", "is not a ssh-rsa key"),
        "signatures: optional": ("signatures: sometimes", "separation_of_duties.signatures", "optional"),
    }
    for old, (new, where, why) in cases.items():
        broken = (
            text.replace(old, new, 1)
            if old != "ssh-ed25519"
            else text.replace(public(keys["quinn"]), public(keys["quinn"]).replace("ssh-ed25519", "ssh-rsa", 1))
        )
        with pytest.raises(RunbookError) as caught:
            parse_runbook(broken, "cutover.yaml")
        assert where in str(caught.value) and why in str(caught.value), str(caught.value)
    with pytest.raises(RunbookError, match="signing_keys belong to the person in `name`"):
        parse_runbook(text.replace("    name: Dana Lead\n", ""), "cutover.yaml")
    with pytest.raises(RunbookError, match="must be relative to the project folder"):
        parse_runbook(text.replace("  signatures: optional", "  signatures: optional\n  allowed_signers: /etc/x"), "c")


def test_the_statement_is_canonical_and_strict() -> None:
    made = statement()
    text = made.canonical()
    assert Statement.parse(text) == made and json.loads(text)["version"] == 1
    assert statement().nonce != made.nonce  # each statement is unique
    with pytest.raises(UsageError, match="not in canonical form"):
        Statement.parse(json.dumps(json.loads(text), indent=1))
    for change, why in (
        ({"version": 2}, "version 2"),
        ({"kind": "x"}, "kind"),
        ({"extra": 1}, "fields differ"),
        ({"run": 5}, "wrong type"),
    ):
        doc = json.loads(text) | change
        with pytest.raises(UsageError, match=why):
            Statement.parse(json.dumps(doc, sort_keys=True, separators=(",", ":")))
    with pytest.raises(UsageError, match="not a cutover sign-off statement file"):
        Envelope.loads("{}", "f.json")
    with pytest.raises(UsageError, match="not a sign-off statement file"):
        Envelope.loads("nope", "f.json")


def test_the_key_ring_names_people_and_reads_allowed_signers(tmp_path: Path, keys: dict[str, Path]) -> None:
    (tmp_path / "signers").write_text(f"# team\nquinn@example.com {public(keys['mallory'])}\n")
    write_runbook(tmp_path, keys)
    path = tmp_path / "cutover.yaml"
    path.write_text(
        path.read_text().replace("  signatures: optional", "  signatures: optional\n  allowed_signers: signers")
    )
    ring = keyring(load_runbook(path), tmp_path)
    assert ring.sources == ["roles.<id>.signing_keys", "signers"]
    assert {h.name for h in ring.runbook_principals.values()} == {"Dana Lead", "Sam Secure", "Quinn QA", "Rae QA"}
    assert ring.keyed_roles == {"deployment_lead", "security_reviewer", "qa_lead"}
    assert ring.holder("quinn@example.com").name == "Quinn QA"  # a file principal is the runbook's person
    assert ring.holder("someone@else.org").name == "someone@else.org"
    assert file_principals('"Quinn QA",q@x namespaces="a" ssh-ed25519 AAAA') == ["Quinn QA", "q@x"]
    (tmp_path / "signers").unlink()
    with pytest.raises(UsageError, match="allowed_signers: signers not found"):
        keyring(load_runbook(path), tmp_path)


def test_verification_refuses_another_namespace_and_an_empty_ring(tmp_path: Path, keys: dict[str, Path]) -> None:
    write_runbook(tmp_path, keys)
    ring = keyring(load_runbook(tmp_path / "cutover.yaml"), tmp_path)
    text = statement().canonical()
    other = subprocess.run(
        ["ssh-keygen", "-Y", "sign", "-n", "git", "-f", str(keys["quinn"])],
        input=text.encode(),
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout.decode()
    with pytest.raises(Failure, match="is for namespace 'git', not 'cutover-signoff'"):
        verify_envelope(Envelope(text, other), ring, role="qa_lead", by="Quinn QA")
    good = Envelope(text, sshkeygen.sign(text.encode(), keys["quinn"]))
    assert verify_envelope(good, ring, role="qa_lead", by="quinn@example.com").signer == "Quinn QA"
    ring.allowed_signers = ""
    with pytest.raises(Failure, match="the runbook lists no signing keys"):
        verify_envelope(good, ring, role="qa_lead", by="Quinn QA")
