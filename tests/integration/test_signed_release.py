"""A release whose sign-offs are SSH-signed (real processes → the real sf CLI → orgsim; real ssh-keygen keys).

`separation_of_duties.signatures: required`: the deployment lead signs the go decision with their key on the
release machine; the run validates and pauses on the QA lead's sign-off; an unsigned one is refused; the QA lead,
on their own clone of the repository (no `.cutover/`), signs for the run by id and pushes the statement to
`refs/cutover/signoffs/<run>`; `cutover resume` fetches it, verifies it, and the run deploys.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from test_deploy_path import cutover, env, make_project, quick_deploys, start_org, steps_by_id  # noqa: F401

pytestmark = pytest.mark.integration

SIGNOFFS = [
    {"id": "go-decision", "title": "Go/no-go decision made", "role": "deployment_lead", "stage": "validate"},
    {"id": "release-notes", "title": "Release notes published", "role": "qa_lead", "stage": "validate"},
]


def make_key(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"id_{name}"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, timeout=30)
    return path


def test_a_qa_lead_on_another_clone_signs_and_the_release_deploys(
    tmp_path: Path,
    sf_bin: Path,
    sf_home: Path,
    env: dict[str, str],  # noqa: F811
) -> None:
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen (OpenSSH) is not installed")
    lead_key, qa_key = make_key(tmp_path / "keys", "lead"), make_key(tmp_path / "keys", "qa")
    server = start_org(tmp_path, sf_bin, sf_home)
    try:
        project = make_project(tmp_path, server, env, stages=["validate", "deploy"])
        ryaml = YAML()
        path = project / "cutover.yaml"
        doc = ryaml.load(path.read_text())
        doc["signoffs"] = SIGNOFFS
        doc["roles"]["deployment_lead"]["signing_keys"] = [lead_key.with_suffix(".pub").read_text().strip()]
        doc["roles"]["qa_lead"]["signing_keys"] = [qa_key.with_suffix(".pub").read_text().strip()]
        doc["separation_of_duties"]["signatures"] = "required"
        with path.open("w") as handle:
            ryaml.dump(doc, handle)
        for args in (["commit", "-q", "-am", "signed sign-offs"], ["push", "-q", "origin", "main"]):
            subprocess.run(["git", *args], cwd=project, env=env, check=True, timeout=60)

        lead = ["--by", "Avery Brooks", "--role", "deployment_lead"]
        assert cutover(project, env, "signoff", "go-decision", *lead).returncode == 1  # unsigned: refused
        signed = cutover(project, env, "signoff", "go-decision", *lead, "--key", str(lead_key))
        assert signed.returncode == 0, signed.stderr
        paused = cutover(project, env, "run", "--yes", "--format", "json")
        assert paused.returncode == 4, paused.stdout[-2000:] + paused.stderr[-2000:]
        first = json.loads(paused.stdout)
        run_id = first["run_id"]
        assert steps_by_id(first)["validate.dry-run"]["status"] == "passed"

        qa = ["--by", "Quinn Tester", "--role", "qa_lead"]
        unsigned = cutover(project, env, "signoff", "release-notes", *qa)
        assert unsigned.returncode == 1 and "needs a signed sign-off" in unsigned.stderr

        clone = tmp_path / "qa-laptop"
        subprocess.run(
            ["git", "clone", "-q", str(tmp_path / "origin.git"), str(clone)], env=env, check=True, timeout=60
        )
        pushed = cutover(clone, env, "signoff", "release-notes", *qa, "--key", str(qa_key), "--run", run_id, "--push")
        assert pushed.returncode == 0, pushed.stderr
        assert not (clone / ".cutover").exists()

        done = cutover(project, env, "resume", "--format", "json")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert (
            "imported from origin: Quinn Tester signed signoff.release-notes as qa_lead (verified signer" in done.stderr
        )
        status = json.loads(done.stdout)
        assert status["run_id"] == run_id and status["state"] == "succeeded"
        steps = steps_by_id(status)
        assert steps["deploy.quick"]["status"] == "passed" and len(quick_deploys(server)) == 1
        for step, person in (("signoff.go-decision", "Avery Brooks"), ("signoff.release-notes", "Quinn Tester")):
            [given] = steps[step]["signoffs"]
            assert given["signer"] == person and given["fingerprint"].startswith("SHA256:")
        assert cutover(project, env, "audit", "verify").returncode == 0
    finally:
        server.stop()
