"""Post-deploy verification and rollback with the real sf CLI against orgsim.

1. `cutover run` (real processes): a release that changes ElaroLogger and adds ComplianceDashboardController
   (backup → validate → quick deploy), then ApexLog failures after the deploy (`faults.apexlog_failures_after_deploy`)
   and an org that refuses deploys over pending scheduled jobs: verify.apex-logs fails, the rollback runs by itself
   (aborting and re-scheduling the jobs around the redeploy), the run ends `rolled_back`, the org has the old
   ElaroLogger body again and no ComplianceDashboardController; `cutover status` / `cutover audit verify` agree.
2. `cutover run --until deploy`, then `cutover rollback RUN --yes --by WHO` (real processes): the same restore and
   removal on request, the decision signed by the approver, the rest of the plan skipped.
3. A deploy that aborts the scheduled jobs (`faults.abort_scheduled_jobs_on_deploy`): verify.scheduled-jobs names
   the missing jobs, and re-creating them with `sf apex run` brings all five back WAITING.
4. verify.apex-tests names a failing test and reports org-wide coverage; verify.permission-sets finds Elaro_Admin.

3 and 4 check single steps in-process through `Engine.execute` with the registry's executors (no stand-ins).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from ruamel.yaml import YAML

from cutover.engine import Engine, RunState, StepStatus
from cutover.errors import StepFailed
from cutover.runbook import load_runbook
from cutover.runbook.plan import build_plan
from cutover.steps import build_executors, plan_to_specs
from cutover.steps.registry import StepServices
from orgsim.scenario import builtin_scenario_path, scenario_from_dict
from orgsim.testing import OrgsimServer, login, run_sf

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "elaro"
SEED_CLASSES = REPO / "src" / "orgsim" / "scenarios" / "elaro-previous-release" / "classes"
CUTOVER = Path(sys.executable).parent / "cutover"
ADDED_CLASS = "ComplianceDashboardController"  # in the release, not in production before it
CHANGED_CLASS = "ElaroLogger"


def scenario(**changes: Any) -> Any:
    path = builtin_scenario_path("production")
    data = yaml.safe_load(path.read_text())
    # The release redeploys the Schedulable classes; like an org with "allow deployments when Apex jobs are pending".
    data.setdefault("settings", {})["allow_deploy_with_pending_jobs"] = True
    data["durations"] = {"validate_seconds": 1, "deploy_seconds": 1, "test_seconds": 1, "retrieve_seconds": 0}
    for section, values in changes.items():
        data.setdefault(section, {}).update(values)
    return scenario_from_dict(data, base_dir=path.parent, source="test")


def make_project(tmp_path: Path) -> Path:
    project = tmp_path / "elaro"
    shutil.copytree(
        EXAMPLE, project, ignore=shutil.ignore_patterns("node_modules", "coverage", ".cutover", "backups", "logs")
    )
    logger = project / "force-app" / "main" / "default" / "classes" / f"{CHANGED_CLASS}.cls"
    logger.write_text(logger.read_text() + "\n// v3.0.0: structured log context\n")
    ryaml = YAML()
    doc = ryaml.load((project / "cutover.yaml").read_text())
    doc["target"]["production"] = True
    with (project / "cutover.yaml").open("w") as handle:
        ryaml.dump(doc, handle)
    return project


def start_org(tmp_path: Path, sf_bin: Path, sf_home: Path, **changes: Any) -> OrgsimServer:
    server = OrgsimServer(tmp_path / "org", scenario(**changes))
    login(sf_bin, sf_home, server.url, server.token, alias="production")
    return server


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    project = make_project(tmp_path)
    eng = Engine(project)
    yield eng
    eng.close()


def create_run(engine: Engine, step_ids: list[str], *, nonblocking: tuple[str, ...] = ()) -> tuple[Any, dict[str, Any]]:
    """A run of these plan steps (rollback ones as contingency), with the registry's real executors."""
    runbook = load_runbook(engine.project_dir / "cutover.yaml")
    plan = build_plan(runbook)
    specs = [s for s in plan_to_specs(plan, runbook) if s.id in step_ids]
    if not any(s.contingency for s in specs):  # checking one step on its own: its failure just fails the run
        specs = [replace(s, on_failure="stop", blocking=s.id not in nonblocking) for s in specs]
    assert [s.id for s in specs] == step_ids
    run = engine.create_run("production", specs)
    services = StepServices(project_dir=engine.project_dir, target_org="production")
    return run, build_executors(plan, runbook, services, step_ids)


def deploy_folder(sf_bin: Path, sf_home: Path, folder: Path) -> None:
    """`sf project deploy start --metadata-dir FOLDER` to `production` (a change made outside cutover)."""
    done = run_sf(
        sf_bin,
        ["project", "deploy", "start", "--metadata-dir", str(folder), "--target-org", "production", "--wait", "5"],
        sf_home,
    )
    assert done.returncode == 0, str(done)


def query(sf_bin: Path, sf_home: Path, soql: str) -> list[dict[str, Any]]:
    done = run_sf(sf_bin, ["data", "query", "--query", soql, "--target-org", "production"], sf_home)
    assert done.returncode == 0, str(done)
    return done.json["result"]["records"]


def cutover(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CUTOVER), "-C", str(project), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def edit_runbook(project: Path, stages: list[str], *, smoke_tests: bool = True) -> None:
    ryaml = YAML()
    doc = ryaml.load((project / "cutover.yaml").read_text())
    doc["stages"] = stages
    if not smoke_tests:
        doc.setdefault("checklists", {})["smoke_tests"] = []
    with (project / "cutover.yaml").open("w") as handle:
        ryaml.dump(doc, handle)


def test_verification_failure_rolls_back_restoring_changed_and_removing_added_classes(
    tmp_path: Path, sf_bin: Path, sf_home: Path, sf_environment: dict[str, str]
) -> None:
    server = start_org(tmp_path, sf_bin, sf_home, faults={"apexlog_failures_after_deploy": 3})
    try:
        project = make_project(tmp_path)
        # No manual smoke tests: the automated checks come first and one of them fails.
        edit_runbook(project, ["backup", "validate", "deploy", "verify"], smoke_tests=False)
        deployed = cutover(project, sf_environment, "run", "--until", "deploy", "--yes", "--format", "json")
        assert deployed.returncode == 0, deployed.stdout[-2000:] + deployed.stderr[-2000:]
        # From now on the org refuses to deploy a Schedulable class with pending jobs (Salesforce's default): the
        # rollback has to abort the jobs of the scheduler classes in the backup, and re-create them afterwards.
        server.org.scenario.settings.allow_deploy_with_pending_jobs = False

        done = cutover(project, sf_environment, "run", "--yes", "--format", "json")
        assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
        message = done.stderr
        assert "verify.apex-logs" in message and "3 failed transaction(s) in ApexLog" in message
        assert "rolled back" in message and "restored" in message and ADDED_CLASS in message
        status = json.loads(done.stdout)
        assert status["state"] == RunState.ROLLED_BACK.value
        steps = {s["id"]: s for s in status["steps"]}
        assert steps["deploy.quick"]["status"] == "passed" and steps["verify.apex-tests"]["status"] == "passed"
        assert steps["verify.apex-logs"]["status"] == "failed"
        assert "ElaroAuditTrailPoller (Application)" in steps["verify.apex-logs"]["detail"]
        for step_id in ("rollback.decide", "rollback.redeploy-backup", "rollback.remove-added", "rollback.notify"):
            assert steps[step_id]["status"] == "passed", (step_id, steps[step_id]["detail"])
        assert steps["rollback.scheduled-jobs"]["status"] == "passed", steps["rollback.scheduled-jobs"]["detail"]
        assert "automatic rollback" in steps["rollback.decide"]["detail"]
        assert steps["rollback.remove-added"]["external_ids"]["deploy_id"].startswith("0Af")
        redeploy = steps["rollback.redeploy-backup"]
        assert len(redeploy["external_ids"]["aborted_jobs"]) == 5 and "re-scheduled" in redeploy["detail"]
        jobs = query(sf_bin, sf_home, "SELECT CronJobDetail.Name, State FROM CronTrigger")
        assert {"RetentionEnforcementScheduler", "ConsentExpirationScheduler"} <= {
            r["CronJobDetail"]["Name"] for r in jobs if r["State"] == "WAITING"
        }

        # The org: the changed class has its pre-release body again, the added class is gone.
        assert query(sf_bin, sf_home, f"SELECT Id FROM ApexClass WHERE Name = '{ADDED_CLASS}'") == []
        body = query(sf_bin, sf_home, f"SELECT Body FROM ApexClass WHERE Name = '{CHANGED_CLASS}'")[0]["Body"]
        assert body == (SEED_CLASSES / f"{CHANGED_CLASS}.cls").read_text()
        assert "v3.0.0" not in body

        shown = cutover(project, sf_environment, "status", status["run_id"], "--format", "json")
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["state"] == "rolled_back"
        audit = cutover(project, sf_environment, "audit", "verify", status["run_id"])
        assert audit.returncode == 0, audit.stdout + audit.stderr
        for path in (project / ".cutover").rglob("*.json"):
            assert server.token not in path.read_text(errors="replace"), path
    finally:
        server.stop()


def test_jobs_aborted_by_the_deploy_are_found_and_recreated_with_apex_run(
    tmp_path: Path, sf_bin: Path, sf_home: Path, sf_environment: dict[str, str], engine: Engine
) -> None:
    server = start_org(tmp_path, sf_bin, sf_home, faults={"abort_scheduled_jobs_on_deploy": True})
    try:
        release = tmp_path / "release"
        (release / "classes").mkdir(parents=True)
        (release / "package.xml").write_text(
            '<?xml version="1.0" encoding="UTF-8"?><Package xmlns="http://soap.sforce.com/2006/04/metadata">'
            "<types><members>ReleaseNote</members><name>ApexClass</name></types><version>62.0</version></Package>"
        )
        (release / "classes" / "ReleaseNote.cls").write_text("public class ReleaseNote { }")
        (release / "classes" / "ReleaseNote.cls-meta.xml").write_text(
            '<?xml version="1.0" encoding="UTF-8"?><ApexClass xmlns="http://soap.sforce.com/2006/04/metadata">'
            "<apiVersion>62.0</apiVersion><status>Active</status></ApexClass>"
        )
        deploy_folder(sf_bin, sf_home, release)

        run, executors = create_run(engine, ["verify.scheduled-jobs"])
        step = executors["verify.scheduled-jobs"]
        assert step.recreate is False  # a production target: no re-creation unless the runbook asks
        with pytest.raises(StepFailed) as failed:
            engine.execute(run.id, executors)
        names = [job.name for job in step.jobs]
        assert len(names) == 5
        for name in names:  # all five, including the two whose names do not start with "Elaro"
            assert f"{name} missing" in failed.value.message

        engine.retry(run.id, "verify.scheduled-jobs")
        step.recreate = True
        result = engine.execute(run.id, executors)
        assert result.state == RunState.SUCCEEDED
        record = engine.steps(run.id)[0]
        assert record.detail.startswith("re-created ") and "RetentionEnforcementScheduler" in record.detail
        script = next(
            e for e in engine.store.evidence(run.id, "verify.scheduled-jobs") if e["name"] == "schedule-jobs.apex"
        )
        text = (engine.store.cutover_dir / script["relpath"]).read_text()
        assert "System.schedule('ConsentExpirationScheduler', '0 0 3 * * ?', new ConsentExpirationScheduler());" in text

        rows = query(sf_bin, sf_home, "SELECT CronJobDetail.Name, State, NextFireTime FROM CronTrigger")
        by_name = {r["CronJobDetail"]["Name"]: r for r in rows}
        for name in names:
            owned = [r for n, r in by_name.items() if n == name or n.startswith(name + " ")]
            assert owned and all(r["State"] == "WAITING" and r["NextFireTime"] for r in owned), (name, rows)
    finally:
        server.stop()


def test_apex_tests_and_permission_sets_are_checked_against_the_org(
    tmp_path: Path, sf_bin: Path, sf_home: Path, sf_environment: dict[str, str], engine: Engine
) -> None:
    failing = {"test": "ElaroLoggerTest.writesAnAuditEntry", "message": "System.AssertException: audit entry missing"}
    server = start_org(tmp_path, sf_bin, sf_home, apex={"failing_tests": [failing]})
    try:
        # Non-blocking here so one run checks both (in the plan a test failure stops the run and rolls back).
        run, executors = create_run(
            engine, ["verify.apex-tests", "verify.permission-sets"], nonblocking=("verify.apex-tests",)
        )
        result = engine.execute(run.id, executors)
        assert result.failed_nonblocking == ("verify.apex-tests",)
        tests, permission_sets = engine.steps(run.id)
        assert tests.status == StepStatus.FAILED
        assert "ElaroLoggerTest.writesAnAuditEntry" in tests.detail and "audit entry missing" in tests.detail
        table = next(e for e in engine.store.evidence(run.id, "verify.apex-tests") if e["name"] == "apex-tests.txt")
        assert "Org-wide coverage: 88%" in (engine.store.cutover_dir / table["relpath"]).read_text()
        assert permission_sets.status == StepStatus.PASSED and "Elaro_Admin" in permission_sets.detail
    finally:
        server.stop()


def test_cutover_rollback_command_rolls_back_a_deployed_run(
    tmp_path: Path, sf_bin: Path, sf_home: Path, sf_environment: dict[str, str]
) -> None:
    server = start_org(tmp_path, sf_bin, sf_home)
    try:
        project = make_project(tmp_path)
        edit_runbook(project, ["backup", "validate", "deploy", "verify"])
        deployed = cutover(project, sf_environment, "run", "--until", "deploy", "--yes", "--format", "json")
        assert deployed.returncode == 0, deployed.stdout[-2000:] + deployed.stderr[-2000:]
        run_id = json.loads(deployed.stdout)["run_id"]
        assert query(sf_bin, sf_home, f"SELECT Id FROM ApexClass WHERE Name = '{ADDED_CLASS}'")

        done = cutover(
            project, sf_environment, "rollback", run_id, "--yes", "--by", "Avery Brooks",
            "--reason", "users locked out", "--format", "json",
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        status = json.loads(done.stdout)
        assert status["state"] == "rolled_back"
        assert "users locked out" in status["note"] and "restored" in status["note"]
        steps = {s["id"]: s for s in status["steps"]}
        assert steps["rollback.decide"]["signoffs"][0]["by"] == "Avery Brooks"
        assert steps["rollback.remove-added"]["status"] == "passed"
        assert steps["verify.apex-logs"]["status"] == "skipped"  # the rest of the plan never ran

        assert query(sf_bin, sf_home, f"SELECT Id FROM ApexClass WHERE Name = '{ADDED_CLASS}'") == []
        body = query(sf_bin, sf_home, f"SELECT Body FROM ApexClass WHERE Name = '{CHANGED_CLASS}'")[0]["Body"]
        assert body == (SEED_CLASSES / f"{CHANGED_CLASS}.cls").read_text()
        again = cutover(project, sf_environment, "rollback", run_id, "--yes")
        assert again.returncode == 2 and "rolled_back" in again.stderr
        audit = cutover(project, sf_environment, "audit", "verify", run_id)
        assert audit.returncode == 0, audit.stdout + audit.stderr
    finally:
        server.stop()
