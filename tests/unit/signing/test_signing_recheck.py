"""Signed sign-offs verify again from the audit log alone, and a forged or altered one is named."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from signing_helpers import cutover, fingerprint, write_runbook

from cutover.engine import Engine
from cutover.runbook import load_runbook
from cutover.signing.recheck import recheck


def test_recheck_verifies_signed_signoffs_and_names_altered_ones(tmp_path: Path, keys: dict[str, Path]) -> None:
    write_runbook(tmp_path, keys)
    for step, by, role, key in (
        ("notes", "Dana Lead", "deployment_lead", "dana"),
        ("qa", "Quinn QA", "qa_lead", "quinn"),
    ):
        assert cutover(tmp_path, "signoff", step, "--by", by, "--role", role, "--key", str(keys[key])) == 0
    assert cutover(tmp_path, "signoff", "go", "--by", "Rae QA", "--role", "release_manager") == 0  # unsigned
    runbook = load_runbook(tmp_path / "cutover.yaml")
    engine = Engine(tmp_path)
    try:
        events = engine.events(engine.runs()[-1].id)
    finally:
        engine.close()
    checks = recheck(events, runbook, tmp_path)
    assert [(c.step_id, c.by, c.fingerprint, c.ok) for c in checks] == [
        ("signoff.notes", "Dana Lead", fingerprint(keys["dana"]), True),
        ("signoff.qa", "Quinn QA", fingerprint(keys["quinn"]), True),
    ]
    signed = [e for e in events if e.type == "signoff.recorded" and e.payload.get("signed")]
    notes, qa = signed

    def altered(event, **payload):  # a consistent rewrite of the log could change any of this
        return dataclasses.replace(event, payload={**event.payload, **payload})

    forged_name = altered(notes, by="Sam Secure")
    swapped = altered(notes, signed={**notes.payload["signed"], "statement": qa.payload["signed"]["statement"]})
    moved = altered(qa, role="release_manager")
    bad_signature = altered(notes, signed={**notes.payload["signed"], "signature": qa.payload["signed"]["signature"]})
    problems = [c.problem for c in recheck([forged_name, swapped, moved, bad_signature], runbook, tmp_path)]
    assert problems[0] == f"the signature is Dana Lead's key {fingerprint(keys['dana'])}, not what the log records"
    assert "does not match the recorded sign-off (step, role, definition, statement SHA-256)" in problems[1]
    assert "does not match the recorded sign-off (role)" in problems[2]
    assert "belongs to Quinn QA, not Dana Lead" in problems[3]
