"""Signed sign-offs for an org's run on Temporal: the statement is built from what the workflow holds and signed on
the signer's machine (`cutover.fleet.signed`), then verified by the sign-off activity against the runbook's keys
(real ed25519 keys, real ssh-keygen; no Temporal server: the activity's synchronous half runs in-process)."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from cutover.fleet.signed import signed_request
from cutover.temporal.activities import plan_run_sync, record_signoff_sync
from cutover.temporal.types import OrgRunInput, OrgTarget, RunSnapshot, SignoffInput

ORG = "00D5g00000FLT01EAH"


def make_key(folder: Path, name: str) -> Path:
    path = folder / f"id_{name}"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@laptop", "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return path


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen (OpenSSH) is not installed")
    keys = {name: make_key(tmp_path, name) for name in ("dana", "mallory")}
    dana = json.dumps(keys["dana"].with_name("id_dana.pub").read_text().strip())
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "cutover.yaml").write_text(
        f"""\
target: {{alias: rehearsal, production: false}}
roles:
  deployment_lead: {{title: Deployment Lead, name: Dana Lead, email: dana@example.com, phone: "1",
                    signing_keys: [{dana}]}}
  security_reviewer: {{title: Security Reviewer, name: Sam Secure, email: sam@example.com}}
  qa_lead: {{title: QA Lead}}
  release_manager: {{title: Release Manager}}
  developer: {{title: Developer}}
  customer_support: {{title: Customer Support}}
  engineering_manager: {{title: Engineering Manager}}
  security_lead: {{title: Security Lead}}
  vp_engineering: {{title: VP of Engineering}}
  cto: {{title: CTO}}
separation_of_duties: {{reviewer_not_author: false, signatures: optional}}
stages: [post_deploy]
signoffs:
  - {{id: notes, title: Deployment notes documented, role: deployment_lead, stage: post_deploy}}
  - {{id: go, title: Go decision, role: deployment_lead, stage: post_deploy}}
""",
        encoding="utf-8",
    )
    return folder, keys


def test_a_signed_signoff_is_verified_against_the_runbooks_keys(project: tuple[Path, dict[str, Path]]) -> None:
    folder, keys = project
    org_run = OrgRunInput(OrgTarget(ORG, "rehearsal"), str(folder))
    snapshot = plan_run_sync(org_run)
    held = {"run_id": snapshot.run_id, "specs": snapshot.specs, "events": snapshot.events}  # the workflow's query

    def deliver(request: object) -> object:
        return record_signoff_sync(SignoffInput(org_run, snapshot, request))  # type: ignore[arg-type]

    # Mallory's key is in no runbook: refused, nothing recorded.
    forged = signed_request(
        held,
        "notes",
        by="Dana Lead",
        role="deployment_lead",
        note=None,
        evidence=None,
        key=keys["mallory"],
        project_dir=folder,
    )
    refused = deliver(forged)
    assert not refused.ok and refused.events == [], refused.message  # type: ignore[attr-defined]
    # Dana's statement for `notes` delivered as the sign-off of another step: refused (a replay).
    signed = signed_request(
        held,
        "notes",
        by="Dana Lead",
        role="deployment_lead",
        note="ok",
        evidence=None,
        key=keys["dana"],
        project_dir=folder,
    )
    replayed = deliver(replace(signed, step_id="signoff.go"))
    assert not replayed.ok and "not signoff.go" in replayed.message  # type: ignore[attr-defined]
    accepted = deliver(signed)
    assert accepted.ok and "signature verified" in accepted.message, accepted.message  # type: ignore[attr-defined]
    events = accepted.events  # type: ignore[attr-defined]
    recorded = [e for e in events if e["type"] == "signoff.recorded"]
    assert len(recorded) == 1 and recorded[0]["payload"]["by"] == "Dana Lead" and recorded[0]["payload"]["signed"]
    assert events[0]["prev_hash"] == snapshot.events[-1]["hash"]
    # The same statement again counts once.
    after = RunSnapshot(snapshot.run_id, snapshot.target_org, snapshot.specs, snapshot.events + events)
    again = record_signoff_sync(SignoffInput(org_run, after, signed))
    assert not again.ok and "counts once" in again.message
