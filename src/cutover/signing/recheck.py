"""Checking the signed sign-offs of a run again, from its audit log alone: each `signoff.recorded` event of a signed
sign-off carries the exact statement and signature, so anyone holding the runbook's keys can verify them again with
ssh-keygen. Unlike the hash chain, this holds even after a consistent rewrite of the log: a forged "signed" sign-off
needs a good signature by the named person's key over a statement for that run and step.

For `cutover audit verify` and the release record: `recheck(events, runbook, project_dir)`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cutover.engine.model import EventRecord
from cutover.engine.signoffs import same_person
from cutover.errors import CutoverError
from cutover.runbook.models.runbook import Runbook
from cutover.signing.keys import KeyRing, keyring
from cutover.signing.statement import Envelope
from cutover.signing.verify import verify_envelope


@dataclass(frozen=True)
class SignatureCheck:
    seq: int
    step_id: str
    by: str
    fingerprint: str | None
    problem: str | None  # None: verified again

    @property
    def ok(self) -> bool:
        return self.problem is None


def recheck(events: Sequence[EventRecord], runbook: Runbook, project_dir: Path) -> list[SignatureCheck]:
    """One check per signed sign-off in `events` (unsigned ones are not signatures: they are not listed)."""
    ring: KeyRing | None = None
    out: list[SignatureCheck] = []
    for event in events:
        signed = event.payload.get("signed") if event.type == "signoff.recorded" else None
        if not isinstance(signed, Mapping):
            continue
        by = str(event.payload.get("by"))
        fingerprint = str(signed.get("fingerprint")) if signed.get("fingerprint") else None
        try:
            ring = ring or keyring(runbook, project_dir)
            problem = _problem(event, signed, ring)
        except CutoverError as exc:
            problem = exc.message
        out.append(SignatureCheck(event.seq, str(event.step_id), by, fingerprint, problem))
    return out


def _problem(event: EventRecord, signed: Mapping[str, object], ring: KeyRing) -> str | None:
    statement_text, signature = signed.get("statement"), signed.get("signature")
    if not isinstance(statement_text, str) or not isinstance(signature, str):
        return "the event has no statement and signature"
    envelope = Envelope(statement_text, signature)
    statement = envelope.statement
    mismatches = [
        name
        for name, theirs, ours in (
            ("run", statement.run, event.run_id),
            ("step", statement.step, event.step_id),
            ("role", statement.role, event.payload.get("role")),
            ("definition", statement.definition, event.payload.get("definition")),
            ("statement SHA-256", envelope.sha256, signed.get("statement_sha256")),
        )
        if theirs != ours
    ]
    if mismatches:
        return f"the signed statement does not match the recorded sign-off ({', '.join(mismatches)})"
    verified = verify_envelope(envelope, ring, role=statement.role, by=statement.by)
    if not same_person(verified.signer, str(event.payload.get("by"))) or verified.fingerprint != signed.get(
        "fingerprint"
    ):
        return f"the signature is {verified.signer}'s key {verified.fingerprint}, not what the log records"
    return None
