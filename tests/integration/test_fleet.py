"""Fleet on Temporal, end to end: the embedded dev server, two `cutover worker` processes, five orgsim orgs logged in
with the real sf CLI, and `cutover fleet run|signoff|status|report`.

Waves: canary (1 org), then 2 orgs, then the rest (2). The canary passes (its post-deployment checklist signed
through a signal) although the worker running its deploy is SIGKILLed mid-deploy: the other worker re-attaches to
the recorded job (one deploy in that org's history). Wave 2 holds an org whose post-deploy verification fails
(ApexLog failures after the deploy): it rolls back by itself, and 1 of 2 is more than the 10 % threshold, so the
fleet halts before wave 3 and `fleet status` says why.

The lock: an org whose workflow is open is refused to a `cutover run` from another clone (exit 5).
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ruamel.yaml import YAML

from cutover.errors import RunLocked
from cutover.temporal.client import start_org_run
from cutover.temporal.connect import resolve
from cutover.temporal.devserver import DevServer
from cutover.temporal.types import OrgRunInput, OrgTarget
from orgsim.ids import to_18
from orgsim.scenario import builtin_scenario_path, scenario_from_dict
from orgsim.testing import OrgsimServer, login, sf_env

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CUTOVER = BIN / "cutover"
TEMPORAL = BIN / "temporal"


def scenario(org_id: str, deploy_seconds: float = 1, **faults: Any) -> Any:
    path = builtin_scenario_path("production")
    data = yaml.safe_load(path.read_text())
    data.setdefault("settings", {})["allow_deploy_with_pending_jobs"] = True
    data["durations"] = {
        "validate_seconds": 1,
        "deploy_seconds": deploy_seconds,
        "test_seconds": 1,
        "retrieve_seconds": 0,
    }
    data["org"]["org_id"] = org_id
    data["org"]["username"] = f"release.manager@{org_id[:15].lower()}.example.com"  # sf keys its logins by username
    data["faults"] = faults
    return scenario_from_dict(data, base_dir=path.parent, source="test")


def make_project(folder: Path) -> Path:
    """The Elaro example: guard, backup, validate, deploy, verify (and the rollback); no manual smoke tests (the
    post-deployment checklist stays: a sign-off each successful org's run waits for)."""
    shutil.copytree(
        REPO / "examples" / "elaro",
        folder,
        ignore=shutil.ignore_patterns("node_modules", "coverage", ".cutover", "backups", "logs"),
    )
    ryaml = YAML()
    doc = ryaml.load((folder / "cutover.yaml").read_text())
    doc["stages"] = ["guard", "backup", "validate", "deploy", "verify"]
    doc.setdefault("checklists", {})["smoke_tests"] = []
    with (folder / "cutover.yaml").open("w") as handle:
        ryaml.dump(doc, handle)
    return folder


def run(env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CUTOVER), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture
def temporal(tmp_path: Path) -> Iterator[str]:
    server = DevServer(tmp_path / "temporal")
    address = server.start()
    yield address
    server.stop()


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: no worker outlives the test


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(CUTOVER), "worker"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def describe(env: dict[str, str], workflow_id: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(TEMPORAL), "workflow", "describe", "-w", workflow_id, "--address", env["CUTOVER_TEMPORAL"], "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return json.loads(done.stdout) if done.returncode == 0 else {}


def events_of(store: Path) -> list[tuple[str, str | None, dict[str, Any]]]:
    if not store.is_file():
        return []
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)
    try:
        rows = db.execute("SELECT type, step_id, payload FROM events ORDER BY seq").fetchall()
    except sqlite3.Error:
        return []
    finally:
        db.close()
    return [(t, s, json.loads(p)) for t, s, p in rows]


def kill_worker_during_deploy(env: dict[str, str], project: Path, org_id: str, workers: list[Any]) -> int:
    """Wait until the canary's deploy recorded its job id (and sf is still deploying), then SIGKILL the worker
    running that activity. Returns the killed pid."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        for store in (project / ".cutover" / "fleet" / org_id[:15]).glob("*/.cutover/state.db"):
            events = events_of(store)
            recorded = any(
                t == "step.external_id" and s == "deploy.quick" and p.get("key") == "deploy_id" for t, s, p in events
            )
            finished = any(t == "step.finished" and s == "deploy.quick" for t, s, _ in events)
            if recorded and not finished:
                time.sleep(1.5)  # the heartbeat carrying the job id goes out within a second
                pending = describe(env, org_id[:15]).get("pendingActivities") or []
                identity = pending[0].get("lastWorkerIdentity", "") if pending else ""
                match = re.match(r"cutover-worker-(\d+)@", identity)
                assert match, pending
                pid = int(match.group(1))
                assert pid in [w.pid for w in workers]
                os.kill(pid, signal.SIGKILL)
                return pid
        time.sleep(0.5)
    raise AssertionError("the canary's deploy never started")


def test_fleet_in_waves_halts_on_rollback_and_survives_a_killed_worker(
    tmp_path: Path, sf_bin: Path, sf_home: Path, temporal: str
) -> None:
    ids = [to_18(f"00D5g00000FLT{n:02d}") for n in range(1, 6)]
    aliases = ["canary", "eu-1", "eu-2", "us-1", "us-2"]
    failing = "eu-2"
    servers: list[OrgsimServer] = []
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for alias, org_id in zip(aliases, ids, strict=True):
            faults = {"apexlog_failures_after_deploy": 3} if alias == failing else {}
            server = OrgsimServer(
                tmp_path / f"org-{alias}", scenario(org_id, deploy_seconds=25 if alias == "canary" else 1, **faults)
            )
            servers.append(server)
            login(sf_bin, sf_home, server.url, server.token, alias=alias)
        project = make_project(tmp_path / "elaro")
        fleet = {
            "name": "spring",
            "project": "elaro",
            "release": "3.0.0",
            "orgs": [
                {"alias": a, "org_id": i, "username": s.org.username, "instance_url": s.url}
                for a, i, s in zip(aliases, ids, servers, strict=True)
            ],
            "waves": [
                {"name": "canary", "size": 1},
                {"name": "early", "size": 2, "max_parallel": 2},
                {"name": "rest", "size": "rest", "max_parallel": 2},
            ],
        }
        fleet_file = tmp_path / "fleet.yaml"
        fleet_file.write_text(yaml.safe_dump(fleet, sort_keys=False))
        env = sf_env(sf_home, sf_bin, {"CUTOVER_SF": str(sf_bin), "CUTOVER_TEMPORAL": temporal})

        planned = run(env, "fleet", "plan", str(fleet_file), "--format", "json")
        assert planned.returncode == 0, planned.stderr
        waves = json.loads(planned.stdout)["waves"]
        assert [(w["name"], w["orgs"], w["threshold"]) for w in waves] == [
            ("canary", ["canary"], 0.0),
            ("early", ["eu-1", "eu-2"], 0.1),
            ("rest", ["us-1", "us-2"], 0.1),
        ]

        workers = [start_worker(env, tmp_path / f"worker-{n}.log") for n in (1, 2)]
        follow = subprocess.Popen(
            [str(CUTOVER), "fleet", "run", str(fleet_file)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        killed = kill_worker_during_deploy(env, project, ids[0], workers)
        out, err = follow.communicate(timeout=900)
        # The canary deployed and verified; its run waits for the post-deployment checklist's sign-off.
        assert follow.returncode == 4, out + err
        assert "org run(s) wait for a sign-off: canary: waiting for sign-off: Post-deployment checklist" in err

        canary_store = next((project / ".cutover" / "fleet" / ids[0][:15]).glob("*/.cutover/state.db"))
        canary_events = events_of(canary_store)
        assert any(t == "step.reattaching" and s == "deploy.quick" for t, s, _ in canary_events), canary_events
        deploys = [d for d in servers[0].org.store.list("DeployRequest") if not d["CheckOnly"]]
        assert len(deploys) == 1, deploys  # deployed exactly once, although its worker died mid-deploy

        # Sign-offs arrive as signals: a wrong role is refused (exit 1), the deployment lead's is recorded.
        sign = ["fleet", "signoff", str(fleet_file), "--step", "verify.checklist-1h", "--by", "Taylor Lead"]
        refused = run(env, *sign, "--org", "canary", "--role", "qa_lead")
        assert refused.returncode == 1, refused.stdout + refused.stderr
        signed = run(env, *sign, "--org", "canary", "--role", "deployment_lead")
        assert signed.returncode == 0 and "signed by Taylor Lead" in signed.stdout, signed.stderr
        between = run(env, "fleet", "run", str(fleet_file))
        assert between.returncode == 4, between.stdout + between.stderr  # the canary passed: sign off the next wave
        assert "waiting for a sign-off before wave early" in between.stderr
        approved = run(env, "fleet", "signoff", str(fleet_file), "--by", "Taylor Lead", "--role", "deployment_lead")
        assert approved.returncode == 0, approved.stderr
        waiting = run(env, "fleet", "run", str(fleet_file))
        assert waiting.returncode == 4 and "eu-1: waiting for sign-off" in waiting.stderr, waiting.stderr
        signed = run(env, *sign, "--org", "eu-1", "--role", "deployment_lead")
        assert signed.returncode == 0, signed.stderr
        resumed = run(env, "fleet", "run", str(fleet_file))
        assert resumed.returncode == 1, resumed.stdout + resumed.stderr
        assert "halted" in resumed.stderr and "wave early: 1 of 2 org(s)" in resumed.stderr
        again = run(env, "fleet", "run", str(fleet_file))  # a halted fleet is not started again by accident
        assert again.returncode == 2 and "already ran: halted" in again.stderr, again.stderr

        status = run(env, "fleet", "status", str(fleet_file), "--format", "json")
        assert status.returncode == 0, status.stderr
        doc = json.loads(status.stdout)
        assert doc["state"] == "halted"
        assert "eu-2 rolled_back" in doc["reason"] and "more than its threshold of 10%" in doc["reason"]
        outcomes = {row["alias"]: row["outcome"] for row in doc["orgs"]}
        assert outcomes == {
            "canary": "succeeded",
            "eu-1": "succeeded",
            "eu-2": "rolled_back",
            "us-1": "not_started",
            "us-2": "not_started",
        }
        table = run(env, "fleet", "status", str(fleet_file))
        assert "halted: wave early: 1 of 2" in table.stdout and "rolled_back" in table.stdout
        for server in servers[3:]:  # wave 3 never deployed
            assert server.org.store.list("DeployRequest") == []

        report = run(env, "fleet", "report", str(fleet_file), "--format", "json")
        assert report.returncode == 0, report.stderr
        rows = {row["alias"]: row for row in json.loads(report.stdout)["orgs"]}
        for alias in ("canary", "eu-1", "eu-2"):
            assert rows[alias]["audit_ok"] is True, rows[alias]
            assert rows[alias]["seconds"] and rows[alias]["seconds"] > 0
            record = Path(rows[alias]["record"])
            assert record.is_file() and rows[alias]["run_id"] in record.read_text()
            verified = run(env, "-C", str(record.parent), "audit", "verify")
            assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "rolled back" in Path(rows["eu-2"]["record"]).read_text()
        assert rows["us-1"]["record"] is None
        assert killed not in [w.pid for w in workers if w.poll() is None]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGINT)
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
        for server in servers:
            server.stop()


def test_an_org_whose_workflow_is_open_is_refused_from_another_clone(
    tmp_path: Path, sf_bin: Path, sf_home: Path
) -> None:
    """`cutover server` starts the embedded Temporal; clone A starts the org's run there (no worker picks it up, so
    it stays open); a second team run of the org and `cutover run` in clone B are refused (exit 5); `cutover server`
    stops cleanly on SIGTERM."""
    org_id = to_18("00D5g00000LCK01")
    project_a = make_project(tmp_path / "clone-a")
    project_b = make_project(tmp_path / "clone-b")
    for project in (project_a, project_b):
        ryaml = YAML()
        doc = ryaml.load((project / "cutover.yaml").read_text())
        doc["target"]["expect"]["org_id"] = org_id
        with (project / "cutover.yaml").open("w") as handle:
            ryaml.dump(doc, handle)
    env = sf_env(sf_home, sf_bin, {"CUTOVER_SF": str(sf_bin)})
    server = subprocess.Popen(
        [str(CUTOVER), "-C", str(project_a), "server", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        match = re.search(r"temporal dev server at (\S+)", line)
        assert match, line
        address = match.group(1)
        assert (project_a / ".cutover" / "temporal" / "address").read_text().strip() == address
        # Clone A starts the org's run on Temporal (a team run: the org workflow, id = the org id). No worker runs,
        # so it stays open.
        target = resolve(project_a)
        assert target.address == address
        start_org_run(target, OrgRunInput(OrgTarget(org_id, "production"), str(project_a)))
        assert describe({"CUTOVER_TEMPORAL": address}, org_id[:15])["workflowExecutionInfo"]["status"].endswith(
            "RUNNING"
        )
        with pytest.raises(RunLocked, match=f"org {org_id} .* is locked"):  # a second team run of that org
            start_org_run(target, OrgRunInput(OrgTarget(org_id, "production"), str(project_b)))

        refused = run(env | {"CUTOVER_TEMPORAL": address}, "-C", str(project_b), "run", "--yes", timeout=120)
        assert refused.returncode == 5, refused.stdout + refused.stderr
        assert f"org {org_id} is locked: its run is open on Temporal {address}" in refused.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        _out, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    assert "temporal dev server stopped" in err
    assert not (project_a / ".cutover" / "temporal" / "address").exists()
