"""Issue 8.2: independent work overlaps, with the real sf CLI against orgsim (`cutover` as a real process).

1. The validation is submitted right after the org guard and runs in the org while the backup retrieves. A backup
   that fails (orgsim answers the first `retrieve` with HTTP 500) stops the run before any deploy: the submitted
   validation is cancelled (`sf project deploy cancel`) and recorded (`step.cancelled`). `cutover retry` + `resume`
   submits a new validation, deploys it once, and in the verify stage the Apex tests run while the read-only
   queries run (one REST Composite call for the three of them), joined before the announcement.
2. A validation that fails (a failing Apex test) fails the run at validate, after a complete backup (archive and
   checksum evidence), with nothing deployed; `cutover abort` removes the release refs as before.
3. SIGKILL after the validation was submitted and before it was joined: resume re-attaches to the recorded job
   (`step.reattaching`), and the org saw exactly one validation and one quick deploy.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from test_deploy_path import CUTOVER, cutover, git, make_project, quick_deploys, start_org, steps_by_id
from test_deploy_path import env as env  # the fixture, re-exported for this module
from test_interrupts import step_rows

from cutover.engine import Engine
from orgsim.metadata import deploy as md_deploy

pytestmark = pytest.mark.integration

GUARD_TO_DEPLOY = ["guard", "backup", "release", "validate", "deploy"]


def edit_runbook(project: Path, env: dict[str, str], **changes: Any) -> None:
    """Change cutover.yaml and commit it (the release step refuses uncommitted changes)."""
    ryaml = YAML()
    doc = ryaml.load((project / "cutover.yaml").read_text())
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            doc.setdefault(section, {})[name] = value
        else:
            doc[section] = value
    with (project / "cutover.yaml").open("w") as handle:
        ryaml.dump(doc, handle)
    git(project, "commit", "-q", "-am", "runbook for the test", env=env)
    git(project, "push", "-q", "origin", "main", env=env)


def events(project: Path) -> list[Any]:
    engine = Engine(project)
    try:
        run = engine.resolve_run(None)
        return engine.events(run.id)
    finally:
        engine.close()


def sf_calls(project: Path) -> Counter[str]:
    """`sf` processes per step, from the audit trail (`sf.command` events)."""
    return Counter(str(e.step_id) for e in events(project) if e.type == "sf.command")


def validations(server: Any) -> list[dict[str, Any]]:
    return [job for job in md_deploy.list_jobs(server.org) if job["check_only"]]


def test_failed_backup_cancels_the_validation_then_retry_overlaps_validate_and_verify(
    tmp_path: Path, sf_bin: Path, sf_home: Path, env: dict[str, str]
) -> None:
    server = start_org(
        tmp_path,
        sf_bin,
        sf_home,
        durations={"validate_seconds": 15, "test_seconds": 2},  # still running when the backup fails
        faults={"http_errors": [{"operation": "retrieve", "on_call": 1, "status": 500}]},
    )
    try:
        project = make_project(tmp_path, server, env, stages=[*GUARD_TO_DEPLOY, "verify"])
        edit_runbook(project, env, checklists__smoke_tests=[])  # no manual smoke tests before the automated ones
        plan = cutover(project, env, "plan")
        assert (
            "Overlap: submitted after guard.org-identity; runs alongside backup.retrieve, release.branch-and-tag"
            in (" ".join(plan.stdout.split()))
        ), plan.stdout[-3000:]

        failed = cutover(project, env, "run", "--yes", "--format", "json")
        assert failed.returncode == 1, failed.stdout[-3000:] + failed.stderr[-3000:]
        steps = steps_by_id(json.loads(failed.stdout))
        assert steps["backup.retrieve"]["status"] == "failed"
        validate = steps["validate.dry-run"]
        assert validate["status"] == "pending" and not validate.get("external_ids")
        assert "cancelled (backup.retrieve failed)" in validate["detail"]
        log = events(project)
        kinds = [(e.type, e.step_id) for e in log if e.type.startswith("step.")]
        assert kinds.index(("step.submitted", "validate.dry-run")) < kinds.index(("step.started", "backup.retrieve"))
        cancelled = next(e for e in log if e.type == "step.cancelled")
        first_validation = cancelled.payload["external_ids"]["validation_id"]
        assert cancelled.payload["error"] is None
        assert quick_deploys(server) == []
        cancel = [e for e in log if e.type == "sf.command" and "deploy cancel" in e.payload["command"]]
        assert (
            len(cancel) == 1
            and cancel[0].payload["exit_code"] == 0
            and first_validation in cancel[0].payload["command"]
        )
        assert cancel[0].step_id == "validate.dry-run"  # the cancel call is evidence of the step it cancelled

        retried = cutover(project, env, "retry", "backup.retrieve")
        assert retried.returncode == 0, retried.stdout + retried.stderr
        resumed = cutover(project, env, "resume", "--format", "json")
        # verify.checklist-1h (a sign-off) pauses the run once everything automated has run
        assert resumed.returncode == 4, resumed.stdout[-3000:] + resumed.stderr[-3000:]
        steps = steps_by_id(json.loads(resumed.stdout))
        automated = ["backup.retrieve", "validate.dry-run", "deploy.quick", "verify.apex-tests", "verify.apex-logs"]
        automated += ["verify.scheduled-jobs", "verify.permission-sets"]
        assert {s: steps[s]["status"] for s in automated} == dict.fromkeys(automated, "passed"), {
            s: steps[s]["detail"] for s in automated
        }
        second_validation = steps["validate.dry-run"]["external_ids"]["validation_id"]
        assert second_validation != first_validation
        (deploy,) = quick_deploys(server)
        assert deploy["validation_id"][:15] == second_validation[:15] and deploy["status"] == "Succeeded"

        log = events(project)
        order = [(e.type, e.step_id) for e in log if e.type in ("step.submitted", "step.joined", "step.started")]
        after_retry = order[order.index(("step.started", "backup.retrieve")) - 1 :]
        assert after_retry[:2] == [("step.submitted", "validate.dry-run"), ("step.started", "backup.retrieve")]
        tests_at = after_retry.index(("step.submitted", "verify.apex-tests"))
        joined_at = after_retry.index(("step.joined", "verify.apex-tests"))
        for query_step in ("verify.apex-logs", "verify.scheduled-jobs", "verify.permission-sets"):
            assert tests_at < after_retry.index(("step.started", query_step)) < joined_at, after_retry
        assert joined_at < after_retry.index(("step.started", "verify.announce"))
        batched = [e for e in log if e.type == "query.batched"]
        assert len(batched) == 1 and len(batched[0].payload["steps"]) == 3
        engine = Engine(project)
        try:
            run_id = engine.resolve_run(None).id
            names = {s: [e["name"] for e in engine.store.evidence(run_id, s)] for s in automated[-3:]}
            assert engine.verify(run_id).ok
        finally:
            engine.close()
        assert all("query-result.json" in n for n in names.values()), names
        calls = sf_calls(project)
        print("sf calls per step:", dict(calls))
        assert calls["verify.apex-tests"] == 2  # submit + one `apex get test` (it waits for the run itself)
        assert calls["verify.apex-logs"] + calls["verify.scheduled-jobs"] + calls["verify.permission-sets"] == 1
    finally:
        server.stop()


def test_failed_validation_fails_at_validate_after_a_complete_backup_and_abort_cleans_up(
    tmp_path: Path, sf_bin: Path, sf_home: Path, env: dict[str, str]
) -> None:
    failing = {"test": "ElaroLoggerTest.writesAnAuditEntry", "message": "System.AssertException: audit entry missing"}
    server = start_org(tmp_path, sf_bin, sf_home, apex={"failing_tests": [failing]}, durations={"validate_seconds": 3})
    try:
        project = make_project(tmp_path, server, env, stages=GUARD_TO_DEPLOY)
        done = cutover(project, env, "run", "--yes", "--format", "json")
        assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
        steps = steps_by_id(json.loads(done.stdout))
        assert steps["validate.dry-run"]["status"] == "failed"
        assert "ElaroLoggerTest.writesAnAuditEntry" in steps["validate.dry-run"]["detail"]
        assert steps["backup.retrieve"]["status"] == "passed" and steps["release.branch-and-tag"]["status"] == "passed"
        assert steps["deploy.quick"]["status"] == "pending" and quick_deploys(server) == []
        (record,) = sorted((project / "backups").glob("production-backup-*.json"))
        backup = json.loads(record.read_text())
        archive = project / backup["archive"]
        assert (archive.with_name(archive.name + ".sha256")).read_text().split()[0] == backup["sha256"]
        aborted = cutover(project, env, "abort", "--reason", "validation failed", "--yes")
        assert aborted.returncode == 0, aborted.stdout + aborted.stderr
        assert "v3.0.0" not in git(project, "tag", "--list", env=env)
        assert cutover(project, env, "audit", "verify").returncode == 0
    finally:
        server.stop()


def test_sigkill_before_the_join_reattaches_to_the_submitted_validation(
    tmp_path: Path, sf_bin: Path, sf_home: Path, env: dict[str, str]
) -> None:
    server = start_org(tmp_path, sf_bin, sf_home, durations={"validate_seconds": 8, "retrieve_seconds": 2})
    try:
        project = make_project(tmp_path, server, env, stages=GUARD_TO_DEPLOY)
        proc = subprocess.Popen(
            [str(CUTOVER), "-C", str(project), "run", "--yes"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                rows = step_rows(project)
                submitted = rows.get("sf.validate", {}).get("external_ids", {}).get("validation_id")
                if submitted and rows.get("sf.backup", {}).get("status") in ("running", "passed"):
                    break
                time.sleep(0.05)
            assert proc.poll() is None and submitted, "the validation was never submitted while the run went on"
            os.killpg(proc.pid, signal.SIGKILL)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        assert step_rows(project)["sf.validate"]["status"] == "running"  # submitted, never joined
        broken = cutover(project, env, "lock", "break", "production", "--yes")
        assert broken.returncode == 0, broken.stdout + broken.stderr
        resumed = cutover(project, env, "resume", "--format", "json")
        assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
        steps = steps_by_id(json.loads(resumed.stdout))
        assert steps["validate.dry-run"]["external_ids"]["validation_id"] == submitted
        assert len(validations(server)) == 1  # never submitted twice
        (deploy,) = quick_deploys(server)
        assert deploy["validation_id"][:15] == submitted[:15]
        kinds = [(e.type, e.step_id) for e in events(project)]
        assert ("step.reattaching", "validate.dry-run") in kinds
        assert kinds.count(("step.submitted", "validate.dry-run")) == 1
    finally:
        server.stop()
