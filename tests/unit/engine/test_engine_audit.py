"""The hash-chained event log: a clean run verifies; every kind of tampering is detected and named."""

from __future__ import annotations

import itertools
import json
import sqlite3
from pathlib import Path

import pytest
from engine_helpers import ScriptedStep, specs

from cutover.cli import main
from cutover.engine import Engine, StepOutcome
from cutover.engine.chain import GENESIS, event_hash


def _finished_run(engine: Engine) -> str:
    calls: list[str] = []

    def with_evidence(ctx):
        ctx.record_evidence("result.json", {"ok": True, "count": 3})
        ctx.record_evidence("log.txt", "all good\n")
        return StepOutcome.passed("recorded")

    run = engine.create_run("prod", specs("a", "b", "c"), runbook_path="cutover.yaml", runbook_sha256="0" * 64)
    steps = {
        "a": ScriptedStep("a", calls),
        "b": ScriptedStep("b", calls, behaviour=with_evidence),
        "c": ScriptedStep("c", calls),
    }
    engine.execute(run.id, steps)
    return run.id


def _db(engine: Engine) -> sqlite3.Connection:
    return sqlite3.connect(engine.cutover_dir / "state.db", isolation_level=None)


def _event_ids(db: sqlite3.Connection, run_id: str) -> list[tuple[int, int, str]]:
    return db.execute("SELECT id, seq, type FROM events WHERE run_id = ? ORDER BY id", (run_id,)).fetchall()


def test_clean_run_verifies_and_chains_from_genesis(engine: Engine) -> None:
    run_id = _finished_run(engine)
    report = engine.verify(run_id)
    assert report.ok, report.problem
    events = engine.events(run_id)
    assert report.count == len(events) > 10
    assert events[0].prev_hash == GENESIS and events[0].type == "run.created"
    for earlier, later in itertools.pairwise(events):
        assert later.prev_hash == earlier.hash
        assert later.seq == earlier.seq + 1
    last = events[-1]
    assert last.hash == event_hash(
        last.seq, last.run_id, last.at, last.type, last.step_id, last.payload, last.prev_hash
    )
    assert engine.store.read_head(run_id) == (last.seq, last.hash)


def test_edited_payload_is_named(engine: Engine) -> None:
    run_id = _finished_run(engine)
    target = next(e for e in engine.events(run_id) if e.type == "step.finished" and e.step_id == "b")
    payload = dict(target.payload, detail="nothing to see here")
    with _db(engine) as db:
        db.execute(
            "UPDATE events SET payload = ? WHERE run_id = ? AND seq = ?", (json.dumps(payload), run_id, target.seq)
        )
    report = engine.verify(run_id)
    assert not report.ok
    assert report.bad_seq == target.seq
    assert report.problem.startswith(f"event #{target.seq} (step.finished b)")
    assert "modified" in report.problem


def test_deleted_event_is_named(engine: Engine) -> None:
    run_id = _finished_run(engine)
    with _db(engine) as db:
        db.execute("DELETE FROM events WHERE run_id = ? AND seq = 5", (run_id,))
    report = engine.verify(run_id)
    assert not report.ok and report.bad_seq == 6
    assert "#5 missing" in report.problem


def test_deleted_event_with_renumbered_seqs_is_detected(engine: Engine) -> None:
    """Deleting a row and renumbering the later ones hides the gap; the broken prev_hash link does not hide."""
    run_id = _finished_run(engine)
    with _db(engine) as db:
        db.execute("DELETE FROM events WHERE run_id = ? AND seq = 5", (run_id,))
        db.execute("UPDATE events SET seq = seq - 1 WHERE run_id = ? AND seq > 5", (run_id,))
    report = engine.verify(run_id)
    assert not report.ok and report.bad_seq == 5
    assert "does not link" in report.problem


def test_swapped_events_are_detected(engine: Engine) -> None:
    run_id = _finished_run(engine)
    with _db(engine) as db:
        rows = _event_ids(db, run_id)
        (id_a, _, _), (id_b, _, _) = rows[3], rows[4]
        columns = "run_id, seq, at, type, step_id, payload, prev_hash, hash"
        row_a = db.execute(f"SELECT {columns} FROM events WHERE id = ?", (id_a,)).fetchone()
        row_b = db.execute(f"SELECT {columns} FROM events WHERE id = ?", (id_b,)).fetchone()
        assign = ", ".join(f"{c.strip()} = ?" for c in columns.split(","))
        db.execute(f"UPDATE events SET {assign} WHERE id = ?", (*row_b, id_a))
        db.execute(f"UPDATE events SET {assign} WHERE id = ?", (*row_a, id_b))
    report = engine.verify(run_id)
    assert not report.ok and report.bad_seq == 5  # the row now in 4th place carries seq 5
    assert "out of order" in report.problem


def test_swapped_seq_numbers_are_detected(engine: Engine) -> None:
    run_id = _finished_run(engine)
    with _db(engine) as db:
        db.execute("UPDATE events SET seq = -1 WHERE run_id = ? AND seq = 4", (run_id,))
        db.execute("UPDATE events SET seq = 4 WHERE run_id = ? AND seq = 5", (run_id,))
        db.execute("UPDATE events SET seq = 5 WHERE run_id = ? AND seq = -1", (run_id,))
        db.execute("UPDATE events SET id = -id WHERE run_id = ?", (run_id,))  # reorder rows by the new seq
        rows = db.execute("SELECT id, seq FROM events WHERE run_id = ? ORDER BY seq", (run_id,)).fetchall()
        for new_id, (old_id, _seq) in enumerate(rows, start=1000):
            db.execute("UPDATE events SET id = ? WHERE id = ?", (new_id, old_id))
    report = engine.verify(run_id)
    assert not report.ok and report.bad_seq == 4


def test_edited_evidence_file_is_named(engine: Engine) -> None:
    run_id = _finished_run(engine)
    evidence = engine.store.evidence(run_id, "b")
    path = engine.cutover_dir / evidence[0]["relpath"]
    path.write_text('{"ok": false}\n', encoding="utf-8")
    report = engine.verify(run_id)
    assert not report.ok
    assert "(evidence.recorded b)" in report.problem and "modified" in report.problem
    assert evidence[0]["relpath"] in report.problem


def test_deleted_evidence_file_is_named(engine: Engine) -> None:
    run_id = _finished_run(engine)
    evidence = engine.store.evidence(run_id, "b")
    (engine.cutover_dir / evidence[1]["relpath"]).unlink()
    report = engine.verify(run_id)
    assert not report.ok and "missing" in report.problem


def test_truncated_tail_is_detected_by_the_head_anchor(engine: Engine) -> None:
    run_id = _finished_run(engine)
    with _db(engine) as db:
        last = db.execute("SELECT MAX(seq) FROM events WHERE run_id = ?", (run_id,)).fetchone()[0]
        db.execute("DELETE FROM events WHERE run_id = ? AND seq >= ?", (run_id, last - 1))
    report = engine.verify(run_id)
    assert not report.ok and report.bad_seq == last
    assert "truncated" in report.problem


def test_audit_verify_cli_exit_codes(tmp_path: Path, engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _finished_run(engine)
    assert main(["-C", str(tmp_path), "audit", "verify"]) == 0
    assert "events verified" in capsys.readouterr().out
    with _db(engine) as db:
        db.execute("UPDATE events SET type = 'step.skipped' WHERE run_id = ? AND seq = 3", (run_id,))
    assert main(["-C", str(tmp_path), "audit", "verify", run_id[:15]]) == 1
    err = capsys.readouterr().err
    assert "event #3 (step.skipped" in err


def test_events_are_written_with_their_state_change(engine: Engine) -> None:
    """A step's status and its step.finished event commit together: no status without its event."""
    run_id = _finished_run(engine)
    finished = {e.step_id for e in engine.events(run_id) if e.type == "step.finished"}
    passed = {s.id for s in engine.steps(run_id) if s.status == "passed"}
    assert finished == passed == {"a", "b", "c"}


def test_no_event_is_appended_after_a_truncated_tail(engine: Engine) -> None:
    """Appending would reuse the deleted sequence numbers and hide the truncation: the engine refuses."""
    from cutover.errors import AuditBroken

    run_id = _finished_run(engine)
    with _db(engine) as db:
        db.execute(
            "DELETE FROM events WHERE run_id = ? AND seq = (SELECT MAX(seq) FROM events WHERE run_id = ?)",
            (run_id, run_id),
        )
    with pytest.raises(AuditBroken, match="truncated"), engine.store.transaction() as tx:
        tx.append_event(run_id, "note", None, {"text": "after the fact"})
    assert not engine.verify(run_id).ok


def _append_events(project: str, run_id: str, writer: int, count: int) -> None:
    from cutover.engine.store import Store

    store = Store.open(Path(project))
    for i in range(count):
        with store.transaction() as tx:
            tx.append_event(run_id, "concurrent.write", None, {"writer": writer, "i": i})
    store.close()


def test_concurrent_writers_keep_one_unbroken_chain(engine: Engine) -> None:
    """Sign-offs arrive from other processes while a run executes: every writer appends under BEGIN IMMEDIATE, so
    sequence numbers never collide and the chain still verifies."""
    import multiprocessing

    run = engine.create_run("prod", specs("a"))
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_append_events, args=(str(engine.project_dir), run.id, n, 25)) for n in range(3)]
    for proc in writers:
        proc.start()
    for proc in writers:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    events = engine.events(run.id)
    assert [e.seq for e in events] == list(range(1, 77))
    assert sorted((e.payload["writer"], e.payload["i"]) for e in events[1:]) == [
        (n, i) for n in range(3) for i in range(25)
    ]
    report = engine.verify(run.id)
    assert report.ok, report.problem
    assert engine.store.read_head(run.id) == (76, events[-1].hash)  # the anchor never moves backwards


def test_audit_evidence_and_log_cli(tmp_path: Path, engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _finished_run(engine)
    assert main(["-C", str(tmp_path), "audit", "evidence", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["step_id"], r["name"], r["state"]) for r in rows] == [("b", "result.json", "ok"), ("b", "log.txt", "ok")]
    assert main(["-C", str(tmp_path), "audit", "log", "--step", "b", "--format", "json"]) == 0
    types = [e["type"] for e in json.loads(capsys.readouterr().out)]
    assert types == ["step.started", "evidence.recorded", "evidence.recorded", "step.finished"]
    (tmp_path / rows[1]["path"]).write_text("rewritten\n")
    assert main(["-C", str(tmp_path), "audit", "evidence", run_id]) == 1
    captured = capsys.readouterr()
    assert "MODIFIED" in captured.out and "log.txt (MODIFIED)" in captured.err
