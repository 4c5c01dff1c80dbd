"""The state store: migrations applied once and recorded, clear errors for a broken or newer database,
redaction of everything stored, and the half-written lock file left by a crash."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cutover.cli import main
from cutover.engine import Engine, StepSpec
from cutover.engine.lock import OrgLocks
from cutover.engine.store import Store
from cutover.errors import EnvironmentProblem


def test_migrations_are_recorded_and_applied_once(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    store = Store.open(tmp_path)  # second open: nothing re-applied (CREATE TABLE would fail)
    names = [row[0] for row in store.db.execute("SELECT name FROM schema_migrations")]
    assert names == ["m001_initial", "m002_contingency_steps", "m003_definition_hashes"]
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.db.execute("INSERT INTO schema_migrations VALUES ('m999_future', 'later')")
    store.close()
    with pytest.raises(EnvironmentProblem, match="newer cutover"):
        Store.open(tmp_path)


def test_a_corrupt_database_is_a_one_line_environment_error(tmp_path: Path, capsys) -> None:
    (tmp_path / ".cutover").mkdir()
    (tmp_path / ".cutover" / "state.db").write_bytes(b"this is not sqlite" * 100)
    assert main(["-C", str(tmp_path), "status"]) == 6
    err = capsys.readouterr().err
    assert "cannot open the run state" in err and "Traceback" not in err


def test_params_and_titles_are_stored_redacted(engine: Engine) -> None:
    token = "00D000000000001AAA!AQ8.fake.token"
    run = engine.create_run(
        "prod", [StepSpec("a", "s", f"title {token}", "t", params={"argv": ["sf", token], "password": "hunter2"})]
    )
    record = engine.steps(run.id)[0]
    assert record.spec.title == "title [REDACTED]"
    assert record.spec.params == {"argv": ["sf", "[REDACTED]"], "password": "[REDACTED]"}
    raw = sqlite3.connect(engine.cutover_dir / "state.db").execute("SELECT params FROM steps").fetchone()[0]
    assert "hunter2" not in raw and "AQ8" not in raw


def test_duplicate_step_ids_are_refused(engine: Engine) -> None:
    from cutover.errors import UsageError

    with pytest.raises(UsageError, match="duplicate step ids in the plan: a"):
        engine.create_run("prod", [StepSpec("a", "s", "A", "t"), StepSpec("a", "s", "A again", "t")])
    assert engine.runs() == []


def test_half_written_lock_file_counts_as_stale(tmp_path: Path) -> None:
    locks = OrgLocks(tmp_path / ".cutover")
    locks.dir.mkdir(parents=True)
    locks.path("prod").write_text("")  # crash between O_EXCL create and the JSON write
    info = locks.read("prod")
    assert info is not None and info.stale
    locks.break_lock("prod")
    assert locks.read("prod") is None


def test_an_evidence_path_out_of_cutover_is_refused_to_steps_and_only_listed_to_the_audit(tmp_path: Path) -> None:
    """Issue 11: a relpath read from state.db is resolved and must stay inside .cutover/ (never followed)."""
    from cutover.engine import Engine, StepSpec
    from cutover.engine.store import StateDamaged

    engine = Engine(tmp_path)
    try:
        run = engine.create_run("org", [StepSpec("a", "s", "A", "x")])
        with engine.store.transaction() as tx:
            engine.store.add_evidence(tx, run.id, "a", "hostname", "../../../../etc/hostname", "0" * 64, 1)
        with pytest.raises(StateDamaged, match=r"points outside \.cutover/"):
            engine.store.evidence(run.id, "a")
        assert [r["relpath"] for r in engine.store.evidence(run.id, raw=True)] == ["../../../../etc/hostname"]
        assert any("escapes .cutover/" in p for p in engine.verify(run.id).problems)
    finally:
        engine.close()
