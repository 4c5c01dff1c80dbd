"""Helpers for the signed sign-off tests: real ed25519 keys from ssh-keygen, a runbook that lists them, the CLI.
(A uniquely named module, not conftest.py, so `from signing_helpers import` finds this one.)"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from cutover.cli import main

PEOPLE = ("dana", "sam", "quinn", "rae", "mallory")


def make_key(folder: Path, name: str) -> Path:
    """A new ed25519 key pair without passphrase: returns the private key path (the public one is `.pub` next to
    it)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"id_{name}"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@laptop", "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return path


def public(key: Path) -> str:
    return key.with_name(key.name + ".pub").read_text().strip()


def write_runbook(
    project: Path,
    keys: dict[str, Path],
    *,
    signatures: str = "optional",
    extra: str = "",
    qa_title: str = "QA sign-off",
) -> Path:
    """Dana (deployment lead) and Sam (security reviewer) with a key each in `signing_keys`; Quinn and Rae under
    `roles.qa_lead.people`; the release manager role has no keys. Mallory's key is in no runbook. Four post-deploy
    sign-offs (notes, security-review, qa, go) and a custom step after them."""
    text = f"""\
target:
  alias: rehearsal
  production: false
roles:
  deployment_lead:
    title: Deployment Lead
    name: Dana Lead
    email: dana@example.com
    phone: "1"
    signing_keys: [{json.dumps(public(keys["dana"]))}]
  security_reviewer:
    title: Security Reviewer
    name: Sam Secure
    email: sam@example.com
    signing_keys: [{json.dumps(public(keys["sam"]))}]
  qa_lead:
    title: QA Lead
    people:
      - {{name: Quinn QA, email: quinn@example.com, signing_keys: [{json.dumps(public(keys["quinn"]))}]}}
      - {{name: Rae QA, signing_keys: [{json.dumps(public(keys["rae"]))}]}}
  release_manager: {{title: Release Manager}}
  developer: {{title: Developer}}
  customer_support: {{title: Customer Support}}
  engineering_manager: {{title: Engineering Manager}}
  security_lead: {{title: Security Lead}}
  vp_engineering: {{title: VP of Engineering}}
  cto: {{title: CTO}}
separation_of_duties:
  exclusive: [[deployment_lead, security_reviewer], [release_manager, security_reviewer]]
  reviewer_not_author: false
  signatures: {signatures}
stages: [post_deploy]
signoffs:
  - {{id: notes, title: Deployment notes documented, role: deployment_lead, stage: post_deploy}}
  - {{id: security-review, title: Security review completed, role: security_reviewer, stage: post_deploy}}
  - {{id: qa, title: {qa_title}, role: qa_lead, stage: post_deploy}}
  - {{id: go, title: Go decision, role: release_manager, stage: post_deploy}}
{extra}
custom_steps:
  - id: after
    after: post_deploy
    run: [sh, -c, "echo after >> after.txt"]
"""
    path = project / "cutover.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def cutover(project: Path, *args: str) -> int:
    return main(["-C", str(project), *args])


def keys_in(folder: Path) -> dict[str, Path]:
    return {name: make_key(folder, name) for name in PEOPLE}


def fingerprint(key: Path) -> str:
    """What `ssh-keygen -l` says the key's fingerprint is (computed independently of cutover)."""
    done = subprocess.run(["ssh-keygen", "-l", "-f", str(key)], capture_output=True, text=True, check=True, timeout=30)
    return done.stdout.split()[1]


def sign_all_but(project: Path, keys: dict[str, Path], *skip: str) -> None:
    """Sign the four sign-offs with their holders' keys, except the steps in `skip`."""
    given = {
        "notes": ("Dana Lead", "deployment_lead", "dana"),
        "security-review": ("Sam Secure", "security_reviewer", "sam"),
        "qa": ("Quinn QA", "qa_lead", "quinn"),
        "go": ("Rae QA", "release_manager", "rae"),
    }
    for step, (by, role, key) in given.items():
        if step not in skip:
            assert cutover(project, "signoff", step, "--by", by, "--role", role, "--key", str(keys[key])) == 0, step
