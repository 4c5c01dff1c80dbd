"""Issue 11: an interrupt at any moment of a rollback leaves a run that `cutover resume` finishes, with each rollback
deploy exactly once in the org. `cutover rollback` (a real process) → the real sf CLI → orgsim.

A run deploys the Elaro release (backup → validate → quick deploy), then `cutover rollback RUN --by WHO` is
interrupted Ctrl-C style (SIGINT to the whole process group, sf included) at four moments, with delays from a fixed
seed: the redeploy of the backup before sf answered with its deploy id (resume asks the org's DeployRequest by time
and user, leaving out the deploys the run recorded, then adopts or submits) and while polling it (id recorded:
reattach), then the same two moments of the destructive deploy that removes what the release added. Each interrupted
process exits 130; the last `cutover resume` ends the run `rolled_back`, `cutover audit verify` passes, and the org
holds three deploys: the release's quick deploy and one of each rollback deploy, the ids the steps recorded.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from test_deploy_path import cutover, make_project, start_org
from test_deploy_path import env as env  # the fixture, re-exported for this module
from test_interrupts import interrupt_when

from orgsim.metadata import deploy as md_deploy

pytestmark = pytest.mark.integration

SEED = 1111
STAGES = ["backup", "validate", "deploy"]


def test_sigint_at_four_moments_of_a_rollback_resumes_to_one_deploy_of_each_kind(
    tmp_path: Path, sf_bin: Path, sf_home: Path, env: dict[str, str]
) -> None:
    rng = random.Random(SEED)
    server = start_org(tmp_path, sf_bin, sf_home, durations={"deploy_seconds": 4})
    try:
        project = make_project(tmp_path, server, env, stages=STAGES)
        deployed = cutover(project, env, "run", "--only", ",".join(STAGES), "--yes", "--format", "json")
        assert deployed.returncode == 0, deployed.stdout[-2000:] + deployed.stderr[-2000:]
        run_id = json.loads(deployed.stdout)["run_id"]
        quick = [job["id"] for job in md_deploy.list_jobs(server.org) if not job["check_only"]]
        assert len(quick) == 1, quick

        moments = [
            ("sf.rollback", False),
            ("sf.rollback", True),
            ("sf.rollback_destructive", False),
            ("sf.rollback_destructive", True),
        ]
        args = ["rollback", run_id, "--yes", "--by", "Avery Brooks", "--reason", "users locked out"]
        for action, with_id in moments:
            delay = round(rng.uniform(0.0, 0.8), 2) if not with_id else round(rng.uniform(0.2, 1.5), 2)
            code = interrupt_when(project, env, args, action, "deploy_id", with_id=with_id, delay=delay)
            assert code == 130, (action, with_id, delay, code)
            args = ["resume", run_id]
        done = cutover(project, env, "resume", run_id, "--format", "json")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        status = json.loads(done.stdout)
        assert status["state"] == "rolled_back", status["state"]
        steps = {s["action"]: s for s in status["steps"]}
        recorded = [steps[a]["external_ids"]["deploy_id"] for a in ("sf.rollback", "sf.rollback_destructive")]
        assert [steps[a]["status"] for a in ("sf.rollback", "sf.rollback_destructive")] == ["passed", "passed"]

        deploys = [job for job in md_deploy.list_jobs(server.org) if not job["check_only"]]
        assert len(deploys) == 3, deploys  # the quick deploy, the redeploy of the backup, the destructive deploy
        assert [d["id"][:15] for d in deploys] == [quick[0][:15], *(r[:15] for r in recorded)], (deploys, recorded)
        assert all(d["status"] == "Succeeded" for d in deploys), deploys

        events = json.loads(cutover(project, env, "audit", "log", run_id, "--format", "json").stdout)
        assert sum(e["type"] == "run.interrupted" for e in events) == 4
        asked = [e["type"] for e in events if e["type"].startswith("deploy.recover_")]
        assert len(asked) == 2, asked  # the org was asked once per deploy interrupted before its id
        verified = cutover(project, env, "audit", "verify", run_id)
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        server.stop()
