"""The deployment path end to end: `cutover run` (a real process) → the real sf CLI → orgsim.

guard → backup → release → validate → quick deploy, on a git-initialised copy of examples/elaro with a bare
origin, against the production scenario (alias `production`, identity pinned in cutover.yaml). Also: the wrong org
(guard stops everything), a failing Apex test (stops at validation, nothing deployed) and a crash mid-deploy
(SIGKILL; resume re-attaches to the recorded deploy id: exactly one quick deploy reaches the org).

The shipped production scenario has Schedulable classes with pending jobs, which Salesforce (and orgsim) refuse to
deploy over; these tests allow it in the scenario (`settings.allow_deploy_with_pending_jobs`), as an org with
"Allow deployments of components when corresponding Apex jobs are pending" does.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from ruamel.yaml import YAML

from cutover.runbook import load_runbook
from orgsim.metadata import deploy as md_deploy
from orgsim.metadata import store as md_store
from orgsim.scenario import builtin_scenario_path, scenario_from_dict
from orgsim.testing import OrgsimServer, login, run_sf, sf_env

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "elaro"
CUTOVER = Path(sys.executable).parent / "cutover"
STAGES = ["guard", "backup", "release", "validate", "deploy"]
ONLY = ",".join(STAGES)


def scenario(**changes: Any) -> Any:
    path = builtin_scenario_path("production")
    data = yaml.safe_load(path.read_text())
    data.setdefault("settings", {})["allow_deploy_with_pending_jobs"] = True
    data["durations"] = {"validate_seconds": 1, "deploy_seconds": 1, "test_seconds": 1, "retrieve_seconds": 0}
    for section, values in changes.items():
        data.setdefault(section, {}).update(values)
    return scenario_from_dict(data, base_dir=path.parent, source="test")


def git(cwd: Path, *args: str, env: dict[str, str]) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def make_project(
    tmp_path: Path, server: OrgsimServer, env: dict[str, str], *, stages: list[str] = STAGES, **expect: Any
) -> Path:
    project = tmp_path / "elaro"
    shutil.copytree(
        EXAMPLE, project, ignore=shutil.ignore_patterns("node_modules", "coverage", ".cutover", "backups", "logs")
    )
    ryaml = YAML()
    doc = ryaml.load((project / "cutover.yaml").read_text())
    doc["stages"] = stages
    pinned = {"org_id": server.org.org_id, "username": server.org.username, "instance_url": server.url}
    pinned.update(expect)
    for key, value in pinned.items():
        doc["target"]["expect"][key] = value
    with (project / "cutover.yaml").open("w") as handle:
        ryaml.dump(doc, handle)
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--bare", "-b", "main", str(origin), env=env)
    git(project, "init", "-b", "main", env=env)
    git(project, "add", "-A", env=env)
    git(project, "commit", "-q", "-m", "Elaro v3.0.0", env=env)
    git(project, "remote", "add", "origin", str(origin), env=env)
    git(project, "push", "-q", "origin", "main", env=env)
    return project


@pytest.fixture
def env(sf_bin: Path, sf_home: Path) -> dict[str, str]:
    return sf_env(
        sf_home,
        sf_bin,
        {
            "CUTOVER_SF": str(sf_bin),
            "GIT_AUTHOR_NAME": "Release Bot",
            "GIT_AUTHOR_EMAIL": "release@elaro.example.com",
            "GIT_COMMITTER_NAME": "Release Bot",
            "GIT_COMMITTER_EMAIL": "release@elaro.example.com",
            "GIT_CONFIG_NOSYSTEM": "1",
            "COLUMNS": "200",
        },
    )


def start_org(tmp_path: Path, sf_bin: Path, sf_home: Path, **changes: Any) -> OrgsimServer:
    server = OrgsimServer(tmp_path / "org", scenario(**changes))
    login(sf_bin, sf_home, server.url, server.token, alias="production")
    return server


def cutover(project: Path, env: dict[str, str], *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CUTOVER), "-C", str(project), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def steps_by_id(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["id"]: step for step in status["steps"]}


def quick_deploys(server: OrgsimServer) -> list[dict[str, Any]]:
    return [job for job in md_deploy.list_jobs(server.org) if not job["check_only"]]


def test_full_path_deploys_the_release_with_backup_branch_and_tag(
    tmp_path: Path, sf_bin: Path, sf_home: Path, env: dict[str, str]
) -> None:
    server = start_org(tmp_path, sf_bin, sf_home)
    try:
        before = {c.full_name for c in md_store.list_components(server.org, "ApexClass")}
        project = make_project(tmp_path, server, env)
        done = cutover(project, env, "run", "--only", ONLY, "--yes", "--format", "json")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        status = json.loads(done.stdout)
        assert status["state"] == "succeeded"
        steps = steps_by_id(status)
        main_steps = [
            "guard.org-identity",
            "backup.retrieve",
            "release.branch-and-tag",
            "validate.dry-run",
            "deploy.quick",
        ]
        assert [steps[s]["status"] for s in main_steps] == ["passed"] * 5
        assert "matches target.expect" in steps["guard.org-identity"]["detail"]
        assert "Succeeded:" in steps["validate.dry-run"]["detail"] and "coverage" in steps["validate.dry-run"]["detail"]
        validation_id = steps["validate.dry-run"]["external_ids"]["validation_id"]
        deploy = steps["deploy.quick"]
        assert deploy["external_ids"]["validation_id"] == validation_id
        assert deploy["detail"].startswith("Succeeded:")

        # the backup: archive + checksum + backup.json naming what the release adds
        records = sorted((project / "backups").glob("production-backup-*.json"))
        assert len(records) == 1
        backup = json.loads(records[0].read_text())
        archive = project / backup["archive"]
        assert archive.is_file()
        assert (archive.with_name(archive.name + ".sha256")).read_text().split()[0] == backup["sha256"]
        with tarfile.open(archive) as tar:
            names = tar.getnames()
        assert any(n.endswith("classes/ElaroLogger.cls") for n in names)  # in production before the release
        added = {(c["type"], c["name"]) for c in backup["added_by_release"]}
        in_org_before = {("ApexClass", name) for name in before}
        assert added and not (added & in_org_before)
        assert ("ApexClass", "ComplianceDashboardController") in added or (
            "LightningComponentBundle",
            "complianceDashboard",
        ) in added

        # the release branch and annotated tag, pushed to origin
        origin_refs = git(tmp_path / "origin.git", "show-ref", env=env)
        assert "refs/heads/release/v3.0.0" in origin_refs and "refs/tags/v3.0.0" in origin_refs
        assert git(project, "cat-file", "-t", "v3.0.0", env=env).strip() == "tag"

        # the org now has the release's classes, from exactly one quick deploy of the validated job
        after = {c.full_name for c in md_store.list_components(server.org, "ApexClass")}
        local = {p.stem for p in (project / "force-app/main/default/classes").glob("*.cls")}
        assert local <= after
        deploys = quick_deploys(server)
        assert len(deploys) == 1 and deploys[0]["validation_id"][:15] == validation_id[:15]
        assert deploys[0]["status"] == "Succeeded"

        # no token anywhere in what cutover wrote
        for path in (project / ".cutover").rglob("*"):
            if path.is_file() and path.suffix in (".json", ".txt", ".md", ".jsonl", ".log"):
                assert server.token not in path.read_text(errors="replace"), path
    finally:
        server.stop()


def test_wrong_org_stops_at_the_guard_and_deploys_nothing(
    tmp_path: Path, sf_bin: Path, sf_home: Path, env: dict[str, str]
) -> None:
    server = start_org(tmp_path, sf_bin, sf_home)
    try:
        project = make_project(tmp_path, server, env, org_id="00D5g00000OTHERAAA")
        done = cutover(project, env, "run", "--only", ONLY, "--yes", "--format", "json")
        assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
        steps = steps_by_id(json.loads(done.stdout))
        guard = steps["guard.org-identity"]
        assert guard["status"] == "failed"
        assert "00D5g00000OTHERAAA" in guard["detail"] and server.org.org_id in guard["detail"]
        assert server.token not in done.stdout + done.stderr
        assert all(steps[s]["status"] == "pending" for s in ("backup.retrieve", "validate.dry-run", "deploy.quick"))
        assert md_deploy.list_jobs(server.org) == []
        assert not (project / "backups").exists()
    finally:
        server.stop()


def test_failing_apex_test_stops_at_validation(
    tmp_path: Path, sf_bin: Path, sf_home: Path, env: dict[str, str]
) -> None:
    failing = {"test": "ElaroLoggerTest.writesAnAuditEntry", "message": "System.AssertException: audit entry missing"}
    server = start_org(tmp_path, sf_bin, sf_home, apex={"failing_tests": [failing]})
    try:
        project = make_project(tmp_path, server, env, stages=["validate", "deploy"])  # the guard etc. are tested above
        done = cutover(project, env, "run", "--yes", "--format", "json")
        assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
        steps = steps_by_id(json.loads(done.stdout))
        validate = steps["validate.dry-run"]
        assert validate["status"] == "failed"
        assert "ElaroLoggerTest.writesAnAuditEntry" in validate["detail"]
        assert "audit entry missing" in validate["detail"]
        assert steps["deploy.quick"]["status"] == "pending"
        assert quick_deploys(server) == []
    finally:
        server.stop()


def test_crash_mid_deploy_resumes_without_a_second_deploy(
    tmp_path: Path, sf_bin: Path, sf_home: Path, env: dict[str, str]
) -> None:
    server = start_org(tmp_path, sf_bin, sf_home, durations={"deploy_seconds": 12})
    try:
        project = make_project(tmp_path, server, env)
        proc = subprocess.Popen(
            [str(CUTOVER), "-C", str(project), "run", "--only", ONLY, "--yes", "--format", "json"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 150
        deploy_id = None
        try:
            while time.monotonic() < deadline and proc.poll() is None:
                status = cutover(project, env, "status", "--format", "json")
                if status.returncode == 0:
                    step = steps_by_id(json.loads(status.stdout)).get("deploy.quick", {})
                    deploy_id = (step.get("external_ids") or {}).get("deploy_id")
                    if step.get("status") == "running" and deploy_id:
                        break
                time.sleep(0.5)
            assert deploy_id, "the deploy step never recorded a deploy id while running"
            os.killpg(proc.pid, signal.SIGKILL)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        assert md_deploy.list_jobs(server.org)[-1]["status"] in ("Pending", "InProgress")

        broken = cutover(project, env, "lock", "break", "production", "--yes")
        assert broken.returncode == 0, broken.stdout + broken.stderr
        resumed = cutover(project, env, "resume", "--format", "json")
        assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
        status = json.loads(resumed.stdout)
        assert status["state"] == "succeeded"
        deploy = steps_by_id(status)["deploy.quick"]
        assert deploy["status"] == "passed" and deploy["external_ids"]["deploy_id"] == deploy_id
        deploys = quick_deploys(server)
        assert len(deploys) == 1, deploys
        assert deploys[0]["id"][:15] == deploy_id[:15] and deploys[0]["status"] == "Succeeded"
    finally:
        server.stop()


def test_target_pin_writes_the_org_behind_the_alias(
    tmp_path: Path, sf_bin: Path, sf_home: Path, env: dict[str, str]
) -> None:
    server = start_org(tmp_path, sf_bin, sf_home)
    try:
        project = make_project(tmp_path, server, env, org_id=None, username=None, instance_url=None)
        before = (project / "cutover.yaml").read_text()
        assert '# seed: "2. Verify Production Org Connection"' in before
        done = cutover(project, env, "target", "pin", "--format", "json")
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads(done.stdout)
        assert report["written"] and set(report["changed"]) == {"org_id", "username", "instance_url"}
        after = (project / "cutover.yaml").read_text()
        assert '# seed: "2. Verify Production Org Connection"' in after  # comments survive
        expect = load_runbook(project / "cutover.yaml").target.expect
        assert expect.org_id == server.org.org_id and expect.username == server.org.username
        assert expect.instance_url.rstrip("/") == server.url.rstrip("/") and expect.sandbox is False
        assert server.token not in after + done.stdout + done.stderr
    finally:
        server.stop()


def test_a_validation_overtaken_by_another_deploy_is_not_quick_deployed(
    tmp_path: Path, sf_bin: Path, sf_home: Path, env: dict[str, str]
) -> None:
    server = start_org(tmp_path, sf_bin, sf_home)
    try:
        project = make_project(tmp_path, server, env, stages=["validate", "deploy"])
        paused = cutover(project, env, "run", "--until", "validate", "--yes", "--format", "json")
        assert paused.returncode == 0, paused.stdout[-2000:] + paused.stderr[-2000:]
        # Someone else deploys to production between the validation and the quick deploy.
        other = run_sf(
            sf_bin,
            [
                "project",
                "deploy",
                "start",
                "--source-dir",
                "force-app/main/default/classes/ElaroLogger.cls",
                "--target-org",
                "production",
                "--test-level",
                "RunLocalTests",
                "--wait",
                "5",
            ],
            sf_home,
            cwd=project,
        )
        assert other.returncode == 0, str(other)
        done = cutover(project, env, "resume", "--format", "json")
        assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
        deploy = steps_by_id(json.loads(done.stdout))["deploy.quick"]
        assert deploy["status"] == "failed"
        assert "can no longer be quick-deployed" in deploy["detail"] and "org changed" in deploy["detail"]
        assert "cutover retry validate.dry-run" in deploy["detail"]
        assert [job["validation_id"] for job in quick_deploys(server)] == [None]  # only the other deploy
    finally:
        server.stop()
