"""One active run per target org: live locks refuse, stale locks are detected and broken only on request."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cutover.cli import main
from cutover.engine import Engine
from cutover.engine.lock import OrgLocks
from cutover.errors import RunLocked, UsageError


def _write_lock(project: Path, org: str, pid: int, run_id: str = "20261127-170501-ab12") -> Path:
    path = OrgLocks(project / ".cutover").path(org)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"org": org, "run_id": run_id, "pid": pid, "host": socket.gethostname(), "started": "earlier"}),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def live_pid():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


@pytest.fixture
def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_acquire_is_exclusive_and_release_frees(tmp_path: Path) -> None:
    locks = OrgLocks(tmp_path / ".cutover")
    info = locks.acquire("prod", "run-1", "now")
    assert info.pid == os.getpid() and locks.holds("prod", "run-1")
    with pytest.raises(RunLocked) as caught:
        locks.acquire("prod", "run-2", "now")
    assert "locked by run run-1" in caught.value.message and "active" in caught.value.message
    assert caught.value.exit_code == 5
    locks.acquire("sandbox", "run-2", "now")  # another org is independent
    locks.release("prod", "run-1")
    assert locks.read("prod") is None
    locks.acquire("prod", "run-3", "now")


def test_live_lock_of_another_process_is_not_stale(tmp_path: Path, live_pid: int) -> None:
    _write_lock(tmp_path, "prod", live_pid)
    locks = OrgLocks(tmp_path / ".cutover")
    assert not locks.read("prod").stale
    with pytest.raises(RunLocked) as caught:
        locks.break_lock("prod")
    assert "refusing to break" in caught.value.message and "--force" in caught.value.hint
    locks.break_lock("prod", force=True)
    assert locks.read("prod") is None


def test_dead_process_lock_is_stale_still_refuses_and_says_how_to_break(tmp_path: Path, dead_pid: int) -> None:
    _write_lock(tmp_path, "prod", dead_pid)
    locks = OrgLocks(tmp_path / ".cutover")
    assert locks.read("prod").stale
    with pytest.raises(RunLocked) as caught:
        locks.acquire("prod", "run-2", "now")
    assert "stale" in caught.value.message
    assert caught.value.hint.endswith("cutover lock break prod --yes")
    locks.break_lock("prod")
    assert locks.read("prod") is None


def test_lock_cli_status_and_break(tmp_path: Path, dead_pid: int, live_pid: int, capsys) -> None:
    _write_lock(tmp_path, "prod", dead_pid)
    _write_lock(tmp_path, "uat", live_pid)
    assert main(["-C", str(tmp_path), "lock", "status", "--format", "json"]) == 0
    status = {item["org"]: item for item in json.loads(capsys.readouterr().out)}
    assert status["prod"]["stale"] is True and status["uat"]["stale"] is False
    assert main(["-C", str(tmp_path), "lock", "break", "uat", "--yes"]) == 5  # live: refused
    assert main(["-C", str(tmp_path), "lock", "break", "prod"]) == 2  # no --yes and no terminal: refused
    assert OrgLocks(tmp_path / ".cutover").read("prod") is not None
    assert main(["-C", str(tmp_path), "lock", "break", "prod", "--yes"]) == 0
    assert OrgLocks(tmp_path / ".cutover").read("prod") is None
    assert main(["-C", str(tmp_path), "lock", "break", "prod", "--yes"]) == 2  # nothing to break


def test_execute_refuses_while_locked_and_leaves_the_run_untouched(tmp_path: Path, live_pid: int) -> None:
    from engine_helpers import ScriptedStep, specs

    engine = Engine(tmp_path)
    run = engine.create_run("prod", specs("a"))
    _write_lock(tmp_path, "prod", live_pid, run_id="someone-else")
    calls: list[str] = []
    with pytest.raises(RunLocked):
        engine.execute(run.id, {"a": ScriptedStep("a", calls)})
    assert calls == [] and engine.steps(run.id)[0].status == "pending"
    assert OrgLocks(tmp_path / ".cutover").read("prod").run_id == "someone-else"  # not released by the loser


def test_lock_broken_while_running_stops_before_the_next_step(engine: Engine) -> None:
    from engine_helpers import ScriptedStep, specs

    from cutover.engine import StepOutcome

    run = engine.create_run("prod", specs("a", "b"))
    calls: list[str] = []

    def break_it(ctx):
        engine.locks.break_lock("prod", force=True)
        return StepOutcome.passed()

    with pytest.raises(RunLocked, match="was broken"):
        engine.execute(run.id, {"a": ScriptedStep("a", calls, behaviour=break_it), "b": ScriptedStep("b", calls)})
    assert calls == ["a"]


def test_unknown_org_break_is_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        OrgLocks(tmp_path / ".cutover").break_lock("nope")


def test_lock_file_appears_complete_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader racing `acquire` must never see an empty lock (it would call a live run stale), and a crash while
    the lock is written must not leave one behind that blocks the org until someone breaks it."""
    locks = OrgLocks(tmp_path / ".cutover")
    real_dump = json.dump
    seen_while_writing: list[object] = []

    def observing_dump(obj: object, handle: object) -> None:
        seen_while_writing.append(locks.read("prod"))
        real_dump(obj, handle)  # type: ignore[arg-type]

    monkeypatch.setattr(json, "dump", observing_dump)
    locks.acquire("prod", "run-1", "now")
    assert seen_while_writing == [None]
    locks.release("prod", "run-1")

    def crashing_dump(obj: object, handle: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(json, "dump", crashing_dump)
    with pytest.raises(KeyboardInterrupt):
        locks.acquire("prod", "run-2", "now")
    monkeypatch.setattr(json, "dump", real_dump)
    assert locks.read("prod") is None and list(locks.dir.iterdir()) == []
    locks.acquire("prod", "run-3", "now")


def test_retry_refuses_when_a_resume_took_the_lock_after_its_first_check(
    tmp_path: Path, live_pid: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`retry` clears the step's external ids. If a resume starts between retry's lock check and its write, that
    write would wipe the job id the resumed step just recorded: the check must hold inside the transaction."""
    from engine_helpers import ScriptedStep, specs

    from cutover.engine import StepOutcome

    engine = Engine(tmp_path)
    run = engine.create_run("prod", specs("a"))
    with pytest.raises(Exception):  # noqa: B017 - the step fails; which error the runner raises is not the point
        engine.execute(run.id, {"a": ScriptedStep("a", [], behaviour=lambda ctx: StepOutcome.failed("boom"))})
    real_transaction = engine.store.transaction

    def resume_starts_first():
        _write_lock(tmp_path, "prod", live_pid, run_id=run.id)  # another process resumed this run
        monkeypatch.setattr(engine.store, "transaction", real_transaction)
        return real_transaction()

    monkeypatch.setattr(engine.store, "transaction", resume_starts_first)
    with pytest.raises(RunLocked):
        engine.retry(run.id, "a")
    assert engine.steps(run.id)[0].status == "failed"


@pytest.mark.parametrize("content", ['{"pid": "abc", "run_id": 5}', "[1]", '"text"', '{"pid": 1.5e400}'])
def test_a_mangled_lock_file_reads_as_stale_not_a_crash(tmp_path: Path, content: str) -> None:
    locks = OrgLocks(tmp_path / ".cutover")
    locks.dir.mkdir(parents=True)
    locks.path("prod").write_text(content)
    info = locks.read("prod")
    assert info is not None and info.stale and info.org == "prod"
    with pytest.raises(RunLocked, match="stale") as caught:
        locks.acquire("prod", "run-1", "now")
    assert "cutover lock break prod" in (caught.value.hint or "")
