"""Making and taking signed statements: `statement_for` builds what a person signs (from a checkout, with or
without the run's state), `accept` checks a delivered statement against the run and records it through the engine.

`accept` refuses, with the reason: a statement for another run; for a step the run does not have, or not the one
it was delivered for; signed over another definition of the step (the step changed since it was signed); imported
before (a statement counts once); naming an evidence file that differs here from the one signed; whose key the
runbook does not list, or that belongs to someone else than the statement's person; a bad signature. Separation of
duties is then the engine's, on the verified person.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cutover.engine import Engine, RoleRules, RunInfo, SignoffRecord, StepSpec
from cutover.engine.replan import definition_hash
from cutover.errors import Failure, UsageError
from cutover.redact import redact
from cutover.runbook.models.runbook import Runbook
from cutover.signing import sshkeygen
from cutover.signing.keys import keyring
from cutover.signing.statement import Envelope, Statement, new_statement
from cutover.signing.verify import verify_envelope


def resolve_spec(specs: Sequence[StepSpec], given: str, where: str) -> StepSpec:
    ids = [spec.id for spec in specs]
    matches = [given] if given in ids else [i for i in ids if i.endswith("." + given)]
    if len(matches) != 1:
        what = f"no step {given!r}" if not matches else f"{given!r} matches several steps: {', '.join(matches)}"
        raise UsageError(f"{where} has {what}", hint="see the steps with: cutover plan")
    return next(s for s in specs if s.id == matches[0])


def evidence_sha256(evidence: str | None, project_dir: Path) -> str | None:
    """The SHA-256 of the evidence when it names a file (relative to the current folder or the project)."""
    if not evidence or "://" in evidence:
        return None
    for path in (Path(evidence), project_dir / evidence):
        try:
            if path.is_file():
                return hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            continue
    return None


@dataclass(frozen=True)
class Facts:
    """What the statement binds besides the person's words: the run, the step's definition, the runbook, the commit,
    the audit head when known."""

    run_id: str
    spec: StepSpec
    runbook_sha256: str | None
    commit: str | None
    audit_head: str | None


def statement_for(
    facts: Facts, *, by: str, role: str, note: str | None, evidence: str | None, project_dir: Path, at: str
) -> Statement:
    statement = new_statement(
        run=facts.run_id,
        step=facts.spec.id,
        definition=definition_hash(facts.spec),
        role=role,
        by=by.strip(),
        note=note,
        evidence=evidence,
        evidence_sha256=evidence_sha256(evidence, project_dir),
        runbook_sha256=facts.runbook_sha256,
        commit=facts.commit,
        audit_head=facts.audit_head,
        at=at,
    )
    if redact(statement.canonical()) != statement.canonical():
        raise UsageError("the note or evidence looks like it holds a secret (an access token): leave it out")
    return statement


def sign(statement: Statement, key: Path) -> Envelope:
    text = statement.canonical()
    return Envelope(text, sshkeygen.sign(text.encode("utf-8"), key))


def imported_statements(engine: Engine, run_id: str) -> set[str]:
    """SHA-256 of every statement the run's log recorded (also those a re-plan dropped since: they count once)."""
    out: set[str] = set()
    for event in engine.events(run_id):
        signed = event.payload.get("signed") if event.type == "signoff.recorded" else None
        if isinstance(signed, dict) and signed.get("statement_sha256"):
            out.add(str(signed["statement_sha256"]))
    return out


def accept(
    engine: Engine,
    run: RunInfo,
    envelope: Envelope,
    *,
    runbook: Runbook,
    project_dir: Path,
    rules: RoleRules,
    step: str | None = None,
) -> SignoffRecord:
    """Check `envelope` against `run` (see the module doc) and record it as a signed sign-off."""
    statement = envelope.statement
    if statement.run != run.id:
        raise Failure(f"the statement is for run {statement.run}, not run {run.id}: sign-off refused (replayed?)")
    records = {r.id: r for r in engine.steps(run.id)}
    if statement.step not in records:
        raise Failure(f"the statement is for step {statement.step}, which run {run.id} does not have")
    if step is not None and statement.step != step:
        raise Failure(f"the statement is for step {statement.step}, not {step}: sign-off refused (replayed?)")
    current = definition_hash(records[statement.step].spec)
    if statement.definition != current:
        raise Failure(
            f"the statement was signed over another definition of {statement.step} ({statement.definition[:12]}, "
            f"now {current[:12]}): the step changed since it was signed; sign it again"
        )
    if envelope.sha256 in imported_statements(engine, run.id):
        raise Failure(
            f"this statement ({envelope.sha256[:12]}) was already recorded in run {run.id}: a statement counts once"
        )
    here = evidence_sha256(statement.evidence, project_dir) if statement.evidence_sha256 else None
    if here is not None and here != statement.evidence_sha256:
        raise Failure(
            f"the evidence file {statement.evidence} here differs from the one signed (SHA-256 {here[:12]}, signed "
            f"{statement.evidence_sha256[:12]}): sign-off refused"
        )
    if redact(envelope.statement_text) != envelope.statement_text:
        raise Failure("the statement holds what looks like a secret (an access token): refused")
    verified = verify_envelope(envelope, keyring(runbook, project_dir), role=statement.role, by=statement.by)
    return engine.signoff(
        run.id,
        statement.step,
        by=verified.signer,
        role=statement.role,
        note=statement.note,
        evidence=statement.evidence,
        rules=rules,
        signature=verified,
    )
