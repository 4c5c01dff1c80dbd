"""Issue 11: an interrupt at any moment of validate or deploy leaves a run that `cutover resume` finishes, with
exactly one quick deploy in the org. `cutover run` (a real process) → the real sf CLI → orgsim.

One run is interrupted four times, Ctrl-C style (the signal goes to the whole process group, sf included), at
moments chosen by a fixed seed: validation submitting (no job id yet) and polling (id recorded), quick deploy
submitting (no deploy id yet: resume asks the org's DeployRequest by time and user, then adopts or submits) and
polling. Each interrupted process exits 130; the last resume finishes the run.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from test_deploy_path import CUTOVER, ONLY, cutover, make_project, quick_deploys, start_org
from test_deploy_path import env as env  # the fixture, re-exported for this module

pytestmark = pytest.mark.integration

SEED = 11


def step_rows(project: Path) -> dict[str, dict[str, Any]]:
    """Step action → {id, status, external_ids}, read straight from state.db (cheaper than `cutover status`)."""
    try:
        conn = sqlite3.connect(f"file:{project / '.cutover' / 'state.db'}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return {}
    try:
        rows = conn.execute("SELECT step_id, action, status, external_ids FROM steps").fetchall()
    except sqlite3.OperationalError:
        return {}
    finally:
        conn.close()
    return {a: {"id": s, "status": st, "external_ids": json.loads(x or "{}")} for s, a, st, x in rows}


def interrupt_when(
    project: Path, env: dict[str, str], args: list[str], action: str, id_key: str, *, with_id: bool, delay: float
) -> int:
    """Start `cutover ARGS`, wait until step `action` is running (with or without `id_key` recorded), wait `delay`,
    send SIGINT to the process group (Ctrl-C), and return the exit code."""
    proc = subprocess.Popen(
        [str(CUTOVER), "-C", str(project), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            row = step_rows(project).get(action, {})
            if row.get("status") == "running" and bool(row.get("external_ids", {}).get(id_key)) == with_id:
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"cutover ended (exit {proc.returncode}) before {action} was running"
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGINT)
        return proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def test_sigint_at_four_moments_of_validate_and_deploy_resumes_to_one_deploy(
    tmp_path: Path, sf_bin: Path, sf_home: Path, env: dict[str, str]
) -> None:
    rng = random.Random(SEED)
    server = start_org(tmp_path, sf_bin, sf_home, durations={"validate_seconds": 6, "deploy_seconds": 6})
    try:
        project = make_project(tmp_path, server, env)
        moments = [
            ("sf.validate", "validation_id", False),
            ("sf.validate", "validation_id", True),
            ("sf.quick_deploy", "deploy_id", False),
            ("sf.quick_deploy", "deploy_id", True),
        ]
        args = ["run", "--only", ONLY, "--yes"]
        for action, key, with_id in moments:
            delay = round(rng.uniform(0.0, 0.8), 2) if not with_id else round(rng.uniform(0.2, 1.5), 2)
            code = interrupt_when(project, env, args, action, key, with_id=with_id, delay=delay)
            assert code == 130, (action, with_id, delay, code)
            args = ["resume", "--only", ONLY]
        done = cutover(project, env, "resume", "--only", ONLY, "--format", "json")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        status = json.loads(done.stdout)
        assert status["state"] == "succeeded"
        deploys = quick_deploys(server)
        assert len(deploys) == 1 and deploys[0]["status"] == "Succeeded", deploys
        deploy_step = next(s for s in status["steps"] if s["action"] == "sf.quick_deploy")
        assert deploy_step["external_ids"]["deploy_id"][:15] == deploys[0]["id"][:15]
        verified = cutover(project, env, "audit", "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        server.stop()


def test_resume_asks_the_org_and_adopts_a_deploy_submitted_before_the_interrupt(
    tmp_path: Path, sf_bin: Path, sf_home: Path, env: dict[str, str]
) -> None:
    """The worst moment: sf submitted the quick deploy, cutover was interrupted before it recorded the id. Resume
    finds the deploy in the org (Tooling API DeployRequest, by time and user) and follows it: still one deploy."""
    server = start_org(tmp_path, sf_bin, sf_home, durations={"deploy_seconds": 4})
    try:
        project = make_project(tmp_path, server, env)
        until = cutover(project, env, "run", "--only", ",".join(ONLY.split(",")[:-1]), "--yes")
        assert until.returncode == 0, until.stdout[-2000:] + until.stderr[-2000:]
        deploy_id = _submit_quick_deploy_like_an_interrupted_attempt(project, env)
        done = cutover(project, env, "resume", "--only", ONLY, "--format", "json")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        deploys = quick_deploys(server)
        assert len(deploys) == 1 and deploys[0]["id"][:15] == deploy_id[:15], deploys
        events = cutover(project, env, "audit", "log", "--format", "json")
        assert any(e["type"] == "deploy.recover_adopted" for e in json.loads(events.stdout)), events.stdout[-2000:]
    finally:
        server.stop()


def _submit_quick_deploy_like_an_interrupted_attempt(project: Path, env: dict[str, str]) -> str:
    """Mark the deploy step started (attempt 1, as the engine does), submit its quick deploy with sf directly, and
    leave the step `running` with no deploy id: what SIGINT between sf's answer and cutover's record leaves."""
    from cutover.engine import Engine, StepStatus

    engine = Engine(project)
    try:
        run = engine.resolve_run()
        record = next(r for r in engine.steps(run.id) if r.spec.action == "sf.quick_deploy")
        validation = next(r for r in engine.steps(run.id) if r.spec.action == "sf.validate")
        with engine.store.transaction() as tx:
            engine.store.update_step(tx, run.id, record.id, status=StepStatus.RUNNING, attempt=1)
            engine.store.set_run_state(tx, run.id, run.state, note="interrupted by SIGINT")
            tx.append_event(run.id, "step.started", record.id, {"attempt": 1, "idempotent": False})
            tx.append_event(run.id, "run.interrupted", None, {"signal": "SIGINT"})
        validation_id = validation.external_ids["validation_id"]
    finally:
        engine.close()
    out = subprocess.run(
        [env["CUTOVER_SF"], "project", "deploy", "quick", "--job-id", validation_id, "--async", "--json",
         "--target-org", "production"],
        env=env, capture_output=True, text=True, timeout=120, check=False, cwd=project,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return str(json.loads(out.stdout)["result"]["id"])
