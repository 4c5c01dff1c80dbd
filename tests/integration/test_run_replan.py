"""Editing cutover.yaml in the middle of a run (real processes → the real sf CLI → orgsim).

The run validated and paused on a sign-off; the runbook is then edited (a sign-off step reworded, a custom step
added after the deploy). Resuming re-plans only what changed: the validation is not run again, the unchanged sign-off
is kept, the reworded one is asked for again, the new step runs; the audit trail records the old and new runbook
hashes and still verifies.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from test_deploy_path import cutover, env, make_project, quick_deploys, start_org, steps_by_id  # noqa: F401

from orgsim.metadata import deploy as md_deploy

pytestmark = pytest.mark.integration

SIGNOFFS = [
    {"id": "go-decision", "title": "Go/no-go decision made", "role": "deployment_lead", "stage": "validate"},
    {"id": "release-notes", "title": "Release notes published", "role": "qa_lead", "stage": "validate"},
]


def edit_runbook(project: Path, change: dict) -> None:
    ryaml = YAML()
    path = project / "cutover.yaml"
    doc = ryaml.load(path.read_text())
    doc.update(change)
    with path.open("w") as handle:
        ryaml.dump(doc, handle)


def test_an_edited_runbook_re_plans_only_the_changed_steps(
    tmp_path: Path,
    sf_bin: Path,
    sf_home: Path,
    env: dict[str, str],  # noqa: F811
) -> None:
    server = start_org(tmp_path, sf_bin, sf_home)
    try:
        project = make_project(tmp_path, server, env, stages=["validate", "deploy"])
        edit_runbook(project, {"signoffs": SIGNOFFS})
        lead = ["--by", "Taylor Lead", "--role", "deployment_lead"]
        assert cutover(project, env, "signoff", "go-decision", *lead).returncode == 0
        paused = cutover(project, env, "run", "--yes", "--format", "json")
        assert paused.returncode == 4, paused.stdout[-2000:] + paused.stderr[-2000:]
        first = json.loads(paused.stdout)
        steps = steps_by_id(first)
        assert steps["validate.dry-run"]["status"] == "passed" and steps["signoff.go-decision"]["status"] == "passed"
        qa = ["--by", "Quinn QA", "--role", "qa_lead"]
        assert cutover(project, env, "signoff", "release-notes", *qa).returncode == 0

        reworded = [SIGNOFFS[0], {**SIGNOFFS[1], "title": "Release notes published and linked from the ticket"}]
        custom = [{"id": "smoke", "after": "deploy", "run": ["sh", "-c", "echo smoke ok"], "idempotent": True}]
        edit_runbook(project, {"signoffs": reworded, "custom_steps": custom})
        resumed = cutover(project, env, "resume", "--format", "json")
        assert resumed.returncode == 4, resumed.stdout[-2000:] + resumed.stderr[-2000:]
        assert "reset to pending: signoff.release-notes" in resumed.stderr
        assert "added: custom.smoke" in resumed.stderr
        again = "sign-offs/waivers to give again (their step changed): signoff.release-notes (Quinn QA)"
        assert again in resumed.stderr
        steps = steps_by_id(json.loads(resumed.stdout))
        kept = steps["signoff.go-decision"]
        assert kept["status"] == "passed" and [s["by"] for s in kept["signoffs"]] == ["Taylor Lead"]
        assert steps["signoff.release-notes"]["status"] == "waiting_signoff"
        assert "signoffs" not in steps["signoff.release-notes"]

        assert cutover(project, env, "signoff", "release-notes", *qa).returncode == 0
        done = cutover(project, env, "resume", "--format", "json")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        status = json.loads(done.stdout)
        assert status["run_id"] == first["run_id"] and status["state"] == "succeeded"
        steps = steps_by_id(status)
        assert steps["deploy.quick"]["status"] == "passed" and steps["custom.smoke"]["status"] == "passed"
        validations = [job for job in md_deploy.list_jobs(server.org) if job["check_only"]]
        assert len(validations) == 1 and len(quick_deploys(server)) == 1  # validated once, deployed once

        log = cutover(project, env, "audit", "log", "--format", "json")
        events = json.loads(log.stdout)
        replanned = [e["payload"] for e in events if e["type"] == "run.replanned"]
        assert len(replanned) == 1
        assert replanned[0]["old_runbook_sha256"] == first["runbook_sha256"]
        assert replanned[0]["new_runbook_sha256"] == status["runbook_sha256"] != first["runbook_sha256"]
        assert {"validate.dry-run", "signoff.go-decision", "deploy.quick"} <= set(replanned[0]["kept"])
        assert replanned[0]["reset"] == ["signoff.release-notes"] and replanned[0]["added"] == ["custom.smoke"]
        verified = cutover(project, env, "audit", "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        report = cutover(project, env, "report", "--format", "json")
        assert report.returncode == 0, report.stdout[-2000:] + report.stderr[-2000:]
        audit = json.loads(report.stdout)["audit"]
        assert audit["ok"] and audit["state_problems"] == [], audit["problems"]  # state.db agrees with the log
    finally:
        server.stop()
