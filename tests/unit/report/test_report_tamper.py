"""Issue 11: the release record derives from the chain; damaged state is exit 6; state paths stay inside.

One finished run is built once; each case copies it, tampers with one thing, and checks that `audit verify` and
`report` give the same verdict (both exit 1 naming the difference, or both exit 6 for damaged state).
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from report_helpers import full_run

from cutover.cli import main


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    project = tmp_path_factory.mktemp("pristine")
    return project, full_run(project)


@pytest.fixture
def project(pristine: tuple[Path, str], tmp_path: Path) -> tuple[Path, str]:
    source, run_id = pristine
    target = tmp_path / "p"
    shutil.copytree(source, target)
    return target, run_id


def sql(project: Path, *statements: str) -> None:
    with closing(sqlite3.connect(project / ".cutover" / "state.db")) as conn, conn:
        conn.executescript(";\n".join(statements))


def cli(project: Path, *args: str) -> int:
    return main(["-C", str(project), *args])


def test_the_untouched_run_verifies_in_both(project: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    path, run_id = project
    assert cli(path, "audit", "verify") == 0
    assert cli(path, "report", "--format", "json") == 0
    assert f"run {run_id}:" in capsys.readouterr().out


TAMPERING: dict[str, tuple[Callable[[Path, str], None], str]] = {
    "deleted sign-off row": (
        lambda p, r: sql(p, "DELETE FROM signoffs WHERE step_id = 'signoff.security-review'"),
        "sign-off of signoff.security-review by Sam Secure (security_reviewer) is in the audit log but missing",
    ),
    "deleted evidence row": (
        lambda p, r: sql(p, "DELETE FROM evidence WHERE id = (SELECT min(id) FROM evidence)"),
        "is in the audit log but missing from state.db",
    ),
    "deleted waiver row": (
        lambda p, r: sql(p, "DELETE FROM waivers"),
        "waiver of preflight.docs by Dana Lead is in the audit log but missing from state.db",
    ),
    "edited step status": (
        lambda p, r: sql(p, "UPDATE steps SET status = 'passed' WHERE step_id = 'preflight.docs'"),
        "step preflight.docs is passed in state.db but waived according to the audit log",
    ),
    "deleted step row": (
        lambda p, r: sql(p, "DELETE FROM steps WHERE step_id = 'preflight.docs'"),
        "step preflight.docs of the audit log is missing from state.db",
    ),
    "edited run state": (
        lambda p, r: sql(p, "UPDATE runs SET state = 'failed'"),
        "the run is failed in state.db but succeeded according to the audit log",
    ),
    "edited job id": (
        lambda p, r: sql(p, "UPDATE steps SET external_ids = '{\"deploy_id\": \"0AfX\"}' WHERE external_ids != '{}'"),
        "external job ids of step",
    ),
    "HEAD deleted": (
        lambda p, r: (p / ".cutover" / "runs" / r / "HEAD").unlink(),
        "HEAD is missing",
    ),
    "HEAD garbage": (
        lambda p, r: (p / ".cutover" / "runs" / r / "HEAD").write_text("banana\n"),
        "HEAD is not '<seq> <sha256>' (garbage)",
    ),
    "HEAD a folder": (
        lambda p, r: ((p / ".cutover" / "runs" / r / "HEAD").unlink(), (p / ".cutover" / "runs" / r / "HEAD").mkdir()),
        "HEAD is a folder",
    ),
    "tail truncated with HEAD deleted": (
        lambda p, r: (
            sql(p, "DELETE FROM events WHERE seq > 20"),
            (p / ".cutover" / "runs" / r / "HEAD").unlink(),
        ),
        "HEAD is missing",
    ),
    "evidence path escapes": (
        lambda p, r: sql(p, "UPDATE evidence SET relpath = '../../../../etc/hostname' WHERE id = 1"),
        "escapes .cutover/",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampering_fails_audit_verify_and_report_alike(
    case: str, project: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, run_id = project
    tamper, expected = TAMPERING[case]
    tamper(path, run_id)
    capsys.readouterr()
    assert cli(path, "audit", "verify") == 1
    verify_out = capsys.readouterr()
    assert expected in verify_out.out + verify_out.err
    assert "Traceback" not in verify_out.err
    assert cli(path, "report", "--format", "json") == 1
    report_out = capsys.readouterr()
    assert expected in report_out.out + report_out.err
    assert "AUDIT TRAIL BROKEN" in report_out.out or '"ok": false' in report_out.out


def test_audit_evidence_never_follows_a_path_out_of_cutover(
    project: tuple[Path, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _run_id = project
    sql(path, "UPDATE evidence SET relpath = '../../../../etc/hostname' WHERE id = 1")
    hashed: list[Path] = []
    import cutover.engine.integrity as integrity

    real = integrity.sha256_file
    monkeypatch.setattr(integrity, "sha256_file", lambda p: hashed.append(p) or real(p))
    capsys.readouterr()
    assert cli(path, "audit", "evidence") == 1
    out = capsys.readouterr().out
    assert "OUTSIDE" in out.splitlines()[0]
    assert not any("hostname" in str(p) for p in hashed)


DAMAGE: dict[str, tuple[str, ...]] = {
    "unknown run state": ("UPDATE runs SET state = 'banana'",),
    "broken step params": ("UPDATE steps SET params = '{broken' WHERE position = 0",),
    "step params not an object": ("UPDATE steps SET params = '[1, 2]' WHERE position = 0",),
    "dropped events table": ("DROP TABLE events",),
    "dropped runs table": ("DROP TABLE runs",),
    "emptied schema_migrations": ("DELETE FROM schema_migrations",),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
@pytest.mark.parametrize("command", [("status",), ("report",), ("runs",), ("audit", "verify")])
def test_damaged_state_is_exit_6_with_a_recovery_hint(
    case: str, command: tuple[str, ...], project: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _run_id = project
    sql(path, *DAMAGE[case])
    capsys.readouterr()
    assert cli(path, *command) == 6
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    assert err.startswith("cutover: error: ")
    assert "restore `.cutover/` from backup" in err
    if command != ("audit", "verify"):  # audit verify is the command the hint names: it must not name itself
        assert "cutover audit verify" in err


def test_audit_verify_lists_what_survives_a_dropped_runs_table(
    project: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, run_id = project
    sql(path, "DROP TABLE runs")
    capsys.readouterr()
    assert cli(path, "audit", "verify") == 6
    out = capsys.readouterr().out
    assert f"run {run_id}" in out and "runs" in out


@pytest.mark.parametrize("how", ["empty", "deleted"])
def test_a_lost_state_db_next_to_evidence_is_refused_not_reinitialised(
    how: str, project: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, run_id = project
    state = path / ".cutover" / "state.db"
    for extra in (state.with_name("state.db-wal"), state.with_name("state.db-shm")):
        extra.unlink(missing_ok=True)
    if how == "empty":
        state.write_bytes(b"")
    else:
        state.unlink()
    for command in (("status",), ("report",), ("runs",), ("run", "--yes")):
        capsys.readouterr()
        assert cli(path, *command) == 6, command
        err = capsys.readouterr().err
        assert "no runs yet" not in err and "refusing to start over" in err
        assert (state.stat().st_size == 0) if how == "empty" else not state.exists()
    assert cli(path, "audit", "verify") == 6
    out = capsys.readouterr().out
    assert f"run {run_id}: HEAD anchors event #" in out and "evidence file(s) on disk" in out


def test_status_flags_a_table_the_chain_does_not_back(
    project: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _run_id = project
    assert cli(path, "status") == 0
    assert "NOT VERIFIED" not in capsys.readouterr().out
    sql(path, "DELETE FROM signoffs")
    assert cli(path, "status") == 0
    out = capsys.readouterr().out
    assert "audit: NOT VERIFIED: sign-off of signoff.security-review by Sam Secure" in out
    assert "Sam Secure (security_reviewer)" in out  # the sign-off shown comes from the chained log


def test_the_record_shows_the_chains_sign_offs_and_waivers_not_the_tables(
    project: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    path, _run_id = project
    sql(path, "DELETE FROM signoffs", "UPDATE waivers SET approver = 'Mallory'")
    capsys.readouterr()
    assert cli(path, "report", "--format", "json") == 1
    record = json.loads(capsys.readouterr().out)
    assert [(s["by"], s["role"]) for s in record["signoffs"]] == [("Sam Secure", "security_reviewer")]
    assert [w["approver"] for w in record["waivers"]] == ["Dana Lead"]
    assert record["summary"]["verdict"].startswith("AUDIT TRAIL BROKEN")
