"""Crash-safety through real processes: `cutover run` is SIGKILLed (or SIGTERMed) mid-step, the lock is reported
stale and broken explicitly, and `cutover resume` finishes with every side effect exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from engine_helpers import write_runbook

HERE = Path(__file__).parent
CUTOVER = [sys.executable, "-c", "import sys; from cutover.cli import main; sys.exit(main(sys.argv[1:]))"]

# Step two marks that it started, then waits while the file `slow` exists, so the test can kill it mid-step.
WAIT = "touch two.started; while [ -f slow ]; do sleep 0.05; done"


def _steps(two_idempotent: bool) -> str:
    if two_idempotent:  # an honestly idempotent command: re-running it does not append a second line
        two = f"grep -qx two side.txt || echo two >> side.txt; {WAIT}"
    else:
        two = f"echo two >> side.txt; {WAIT}"
    return f"""\
  - id: one
    after: post_deploy
    run: [sh, -c, "echo one >> side.txt"]
  - id: two
    after: post_deploy
    run: [sh, -c, "{two}"]
    idempotent: {"true" if two_idempotent else "false"}
  - id: three
    after: post_deploy
    run: [sh, -c, "echo three >> side.txt"]
"""


def cutover(project: Path, *args: str, command: list[str] = CUTOVER) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command, "-C", str(project), *args], capture_output=True, text=True, timeout=60, env=_env(), check=False
    )


def start(project: Path, *args: str, command: list[str] = CUTOVER) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*command, "-C", str(project), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    return env


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def kill_during_step_two(project: Path) -> None:
    (project / "slow").touch()
    proc = start(project, "run", "--yes")
    try:
        wait_for(lambda: (project / "two.started").exists(), "step two to start")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL


def lines(project: Path, name: str = "side.txt") -> list[str]:
    return (project / name).read_text().splitlines()


def status(project: Path) -> dict:
    done = cutover(project, "status", "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_sigkill_then_stale_lock_then_resume_runs_each_side_effect_once(tmp_path: Path) -> None:
    write_runbook(tmp_path, _steps(two_idempotent=True))
    kill_during_step_two(tmp_path)
    assert lines(tmp_path) == ["one", "two"]

    locks = cutover(tmp_path, "lock", "status", "--format", "json")
    [lock] = json.loads(locks.stdout)
    assert lock["org"] == "rehearsal" and lock["stale"] is True
    doc = status(tmp_path)
    assert doc["state"] == "running" and doc["lock"]["stale"] is True
    assert doc["next"] == f"cutover lock break rehearsal --yes && cutover resume {doc['run_id']}"
    assert {s["id"]: s["status"] for s in doc["steps"]}["custom.two"] == "running"

    refused = cutover(tmp_path, "resume")
    assert refused.returncode == 5
    assert "stale" in refused.stderr and "cutover lock break rehearsal --yes" in refused.stderr
    again = cutover(tmp_path, "run", "--yes")
    assert again.returncode == 5

    broken = cutover(tmp_path, "lock", "break", "rehearsal", "--yes")
    assert broken.returncode == 0, broken.stderr
    (tmp_path / "slow").unlink()
    resumed = cutover(tmp_path, "resume")
    assert resumed.returncode == 0, resumed.stderr

    assert lines(tmp_path) == ["one", "two", "three"]  # one: not re-run; two: re-run safely; three: once
    doc = status(tmp_path)
    assert doc["state"] == "succeeded"
    attempts = {s["id"]: s["attempt"] for s in doc["steps"]}
    assert attempts["custom.one"] == 1 and attempts["custom.two"] == 2 and attempts["custom.three"] == 1
    verify = cutover(tmp_path, "audit", "verify")
    assert verify.returncode == 0, verify.stderr
    log = cutover(tmp_path, "audit", "log", "--format", "json")
    types = [e["type"] for e in json.loads(log.stdout)]
    assert "lock.broken" in types and "run.resumed" in types


def test_sigkill_in_a_non_idempotent_step_is_never_rerun_blindly(tmp_path: Path) -> None:
    write_runbook(tmp_path, _steps(two_idempotent=False))
    kill_during_step_two(tmp_path)
    assert cutover(tmp_path, "lock", "break", "rehearsal", "--yes").returncode == 0
    (tmp_path / "slow").unlink()

    resumed = cutover(tmp_path, "resume")
    assert resumed.returncode == 1
    assert "may or may not have happened" in resumed.stderr
    assert "cutover waive custom.two --reason TEXT --approver WHO" in resumed.stderr
    assert lines(tmp_path) == ["one", "two"]

    # The operator checks side.txt: step two did its work. The runbook's exception approver waives it.
    refused = cutover(tmp_path, "waive", "custom.two", "--reason", "checked: line written", "--approver", "eve")
    assert refused.returncode == 1 and "may not approve waivers" in refused.stderr
    waived = cutover(tmp_path, "waive", "custom.two", "--reason", "checked: line written", "--approver", "Dana Lead")
    assert waived.returncode == 0, waived.stderr
    resumed = cutover(tmp_path, "resume")
    assert resumed.returncode == 0, resumed.stderr
    assert lines(tmp_path) == ["one", "two", "three"]
    assert {s["id"]: s["status"] for s in status(tmp_path)["steps"]}["custom.two"] == "waived"


def test_second_run_is_refused_while_the_first_holds_the_lock(tmp_path: Path) -> None:
    write_runbook(tmp_path, _steps(two_idempotent=True))
    (tmp_path / "slow").touch()
    first = start(tmp_path, "run", "--yes")
    try:
        wait_for(lambda: (tmp_path / "two.started").exists(), "step two to start")
        second = cutover(tmp_path, "run", "--yes")
        assert second.returncode == 5
        assert "locked by run" in second.stderr and "active" in second.stderr
        assert cutover(tmp_path, "lock", "break", "rehearsal", "--yes").returncode == 5  # live: refused
    finally:
        (tmp_path / "slow").unlink()
        first.communicate(timeout=30)
    assert first.returncode == 0
    assert lines(tmp_path) == ["one", "two", "three"]


def test_sigterm_pauses_the_run_and_releases_the_lock(tmp_path: Path) -> None:
    write_runbook(tmp_path, _steps(two_idempotent=True))
    (tmp_path / "slow").touch()
    proc = start(tmp_path, "run", "--yes")
    wait_for(lambda: (tmp_path / "two.started").exists(), "step two to start")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "cutover resume" in err
    doc = status(tmp_path)
    assert doc["state"] == "paused" and doc["lock"] is None
    assert {s["id"]: s["status"] for s in doc["steps"]}["custom.two"] == "running"
    (tmp_path / "slow").unlink()
    assert cutover(tmp_path, "resume").returncode == 0
    assert lines(tmp_path) == ["one", "two", "three"]


def test_resume_reattaches_to_a_recorded_external_job_instead_of_resubmitting(tmp_path: Path) -> None:
    harness = [sys.executable, str(HERE / "reattach_harness.py")]
    write_runbook(
        tmp_path,
        """\
  - id: before
    after: post_deploy
    run: [sh, -c, "echo before >> side.txt"]
  - id: submit
    after: post_deploy
    run: [sh, -c, "exit 99"]
  - id: after
    after: post_deploy
    run: [sh, -c, "echo after >> side.txt"]
""",
    )
    proc = start(tmp_path, "run", "--yes", command=harness)
    try:
        wait_for(lambda: (tmp_path / "waiting").exists(), "the job to be submitted")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    steps = {s["id"]: s for s in status(tmp_path)["steps"]}
    assert steps["custom.submit"]["status"] == "running"
    assert steps["custom.submit"]["external_ids"] == {"job_id": "0Af000000000042AAA"}

    assert cutover(tmp_path, "lock", "break", "rehearsal", "--yes").returncode == 0
    (tmp_path / "job-done").touch()
    resumed = cutover(tmp_path, "resume", command=harness)
    assert resumed.returncode == 0, resumed.stderr

    assert lines(tmp_path, "submitted.txt") == ["submitted"]  # never re-submitted
    assert lines(tmp_path, "reattached.txt") == ["0Af000000000042AAA"]
    assert lines(tmp_path) == ["before", "after"]
    steps = {s["id"]: s for s in status(tmp_path)["steps"]}
    assert steps["custom.submit"]["status"] == "passed"
    assert steps["custom.submit"]["detail"] == "job 0Af000000000042AAA finished"
    assert cutover(tmp_path, "audit", "verify").returncode == 0


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux) for PR_SET_PDEATHSIG")
def test_a_killed_run_does_not_leave_its_command_running(tmp_path: Path) -> None:
    write_runbook(
        tmp_path, _steps(two_idempotent=True).replace("touch two.started;", "echo $$ > two.pid; touch two.started;")
    )
    kill_during_step_two(tmp_path)
    pid = int((tmp_path / "two.pid").read_text())

    def gone() -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            return True
        return state == "Z"

    wait_for(gone, "the orphaned step command to exit", timeout=10)
