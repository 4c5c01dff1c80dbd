"""`cutover audit verify` checks every signed sign-off again from its event: a consistent rewrite of the log that
puts another name on a signed sign-off (chain, HEAD and tables all made to agree) still fails, naming the sign-off."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from signing_helpers import cutover, write_runbook
from typer.testing import CliRunner

from cutover.cli import app
from cutover.engine import Engine
from cutover.engine.chain import GENESIS, event_hash


def _rename_signer(project: Path, run_id: str, seq: int, new_by: str) -> None:
    """What someone with the machine could do: change who signed, re-chain every event, move HEAD, fix the table."""
    db = sqlite3.connect(project / ".cutover" / "state.db")
    try:
        rows = db.execute(
            "SELECT id, seq, at, type, step_id, payload FROM events WHERE run_id = ? ORDER BY id", (run_id,)
        ).fetchall()
        prev, last = GENESIS, (0, GENESIS)
        for row_id, event_seq, at, type_, step_id, payload in rows:
            data = json.loads(payload)
            if event_seq == seq:
                old_by = data["by"]
                data["by"] = new_by
                db.execute(
                    "UPDATE signoffs SET by = ? WHERE run_id = ? AND step_id = ? AND by = ?",
                    (new_by, run_id, step_id, old_by),
                )
            digest = event_hash(event_seq, run_id, at, type_, step_id, data, prev)
            db.execute(
                "UPDATE events SET payload = ?, prev_hash = ?, hash = ? WHERE id = ?",
                (json.dumps(data, sort_keys=True), prev, digest, row_id),
            )
            prev, last = digest, (event_seq, digest)
        db.commit()
    finally:
        db.close()
    (project / ".cutover" / "runs" / run_id / "HEAD").write_text(f"{last[0]} {last[1]}\n")


def _verify(project: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["-C", str(project), "audit", "verify"])
    return result.exit_code, result.output


def test_audit_verify_rechecks_signed_signoffs_after_a_consistent_rewrite(
    tmp_path: Path, keys: dict[str, Path]
) -> None:
    write_runbook(tmp_path, keys)
    assert cutover(tmp_path, "signoff", "notes", "--by", "Dana Lead", "--role", "deployment_lead", "--key",
                   str(keys["dana"])) == 0  # fmt: skip
    code, output = _verify(tmp_path)
    assert code == 0, output
    engine = Engine(tmp_path)
    try:
        run_id = engine.runs()[-1].id
        signed = next(e for e in engine.events(run_id) if e.type == "signoff.recorded" and e.payload.get("signed"))
    finally:
        engine.close()

    _rename_signer(tmp_path, run_id, signed.seq, "Quinn QA")

    code, output = _verify(tmp_path)
    assert code == 1, output
    assert f"signed sign-off of signoff.notes by Quinn QA (event #{signed.seq}) fails" in output
    assert "Dana Lead's key" in output  # the signature still says who really signed
