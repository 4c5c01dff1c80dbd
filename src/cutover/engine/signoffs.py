"""Sign-off and waiver rules: pure functions over plain data, so they are easy to test and to explain.

Separation of duties is checked when a sign-off is *given* (the refusal names the conflicting earlier sign-off),
and whether a sign-off step is satisfied is evaluated when the run reaches it (distinct people are counted).
People are compared case-insensitively, ignoring surrounding spaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cutover.engine.model import RoleRules, SignoffRecord, SignoffRule, StepSpec
from cutover.errors import Failure, UsageError


@dataclass(frozen=True)
class VerifiedSignature:
    """An SSH signature `cutover.signing` verified: who the key belongs to (per the runbook), its fingerprint, and
    the exact statement and signature (kept in the audit trail and as evidence, so anyone can verify them again)."""

    signer: str
    fingerprint: str
    principal: str
    statement: str
    signature: str
    statement_sha256: str

    def payload(self) -> dict[str, str]:
        return {
            "signer": self.signer,
            "fingerprint": self.fingerprint,
            "principal": self.principal,
            "statement_sha256": self.statement_sha256,
            "statement": self.statement,
            "signature": self.signature,
        }


def same_person(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def check_signoff(
    spec: StepSpec,
    *,
    by: str,
    role: str,
    evidence: str | None,
    existing: Sequence[SignoffRecord],
    rules: RoleRules,
    signature: VerifiedSignature | None = None,
) -> None:
    """Raise UsageError (bad flags) or Failure (a rule refuses this person) if `by` may not sign `spec` as `role`.

    `existing` is every sign-off already given in the run (all steps). With a `signature`, `by` must be the person
    its key belongs to (the verified identity), and one key cannot stand for two people.
    """
    rule = spec.signoff
    if rule is None:
        raise UsageError(f"step {spec.id} ({spec.title}) is not a sign-off step")
    by = by.strip()
    if not by.strip():
        raise UsageError("--by must name the person signing")
    if signature is None and rule.signatures_required:
        raise Failure(
            f"step {spec.id} needs a signed sign-off (separation_of_duties.signatures: required): "
            "sign it with --key ~/.ssh/id_ed25519 (a key the runbook lists for you)"
        )
    if signature is not None:
        _check_signature(spec, by=by, role=role, existing=existing, rules=rules, signature=signature)
    if role not in rule.roles:
        raise UsageError(
            f"step {spec.id} accepts sign-off by role {_or(rule.roles)}, not {role}",
            hint=f"cutover signoff {spec.id} --by {by} --role {rule.roles[0]}" if rule.roles else None,
        )
    if rule.evidence_required and not (evidence and evidence.strip()):
        raise UsageError(
            f"step {spec.id} requires evidence: add --evidence URL (a link to the proof: ticket, report, recording)"
        )
    for earlier in existing:
        if earlier.step_id == spec.id and same_person(earlier.by, by):
            raise Failure(f"{by} already signed {spec.id} (as {earlier.role}); each sign-off needs a distinct person")
    if rule.not_author:
        for author in rules.change_authors:
            if same_person(author, by):
                raise Failure(
                    f"{by} authored changes in this release and cannot sign {spec.id} ({spec.title}): "
                    "the runbook requires reviewers not to review their own change"
                )
    for first, second in rules.exclusive:
        if role not in (first, second):
            continue
        other = second if role == first else first
        if other == role:
            continue
        for earlier in existing:
            if earlier.role == other and same_person(earlier.by, by):
                raise Failure(
                    f"{by} already signed as {other}; the runbook requires {first} and {second} to be different people"
                )
        for holder in rules.role_holders.get(other, ()):
            if same_person(holder, by):
                raise Failure(
                    f"{by} is named as {other} in the runbook; the runbook requires {first} and {second} "
                    "to be different people"
                )


def _check_signature(
    spec: StepSpec,
    *,
    by: str,
    role: str,
    existing: Sequence[SignoffRecord],
    rules: RoleRules,
    signature: VerifiedSignature,
) -> None:
    """Separation of duties on the key: one key is one person, whatever names were typed."""
    if not same_person(signature.signer, by):
        raise Failure(f"the key {signature.fingerprint} belongs to {signature.signer}, not {by}")
    exclusive = {b if a == role else a for a, b in rules.exclusive if role in (a, b)} - {role}
    for earlier in existing:
        if earlier.fingerprint != signature.fingerprint:
            continue
        if earlier.step_id == spec.id:
            raise Failure(
                f"the key {signature.fingerprint} already signed {spec.id} (as {earlier.by}); "
                "each sign-off needs a distinct person"
            )
        if earlier.role in exclusive:
            raise Failure(
                f"the key {signature.fingerprint} already signed as {earlier.role} ({earlier.by}); the runbook "
                f"requires {role} and {earlier.role} to be different people"
            )


def record_signature_evidence(store: Any, tx: Any, run_id: str, step_id: str, signature: VerifiedSignature) -> None:
    """The signed statement and its signature as evidence files of the step (exact bytes: they verify again with
    `ssh-keygen -Y verify ... -n cutover-signoff -s FILE.sig < FILE.json`), in the sign-off's transaction."""
    from cutover.engine.evidence import safe_name, unique_path, write_atomic

    folder = Path(store.run_dir(run_id)) / "evidence" / safe_name(step_id)
    stem = f"signoff-{signature.statement_sha256[:12]}"
    for name, text in ((f"{stem}.statement.json", signature.statement), (f"{stem}.sig", signature.signature)):
        target = unique_path(folder, name)
        data = text.encode("utf-8")
        digest = write_atomic(target, data)
        relpath = target.relative_to(store.cutover_dir).as_posix()
        store.add_evidence(tx, run_id, step_id, target.name, relpath, digest, len(data))
        payload = {"name": target.name, "path": relpath, "sha256": digest, "size": len(data)}
        tx.append_event(run_id, "evidence.recorded", step_id, payload)


@dataclass(frozen=True)
class SignoffState:
    satisfied: bool
    signers: tuple[str, ...]
    needed: int


def evaluate(rule: SignoffRule, signoffs: Sequence[SignoffRecord]) -> SignoffState:
    """How many distinct people signed this step for an accepted role, and whether that is enough."""
    people: list[str] = []
    for record in signoffs:
        if record.role in rule.roles and not any(same_person(record.by, p) for p in people):
            people.append(record.by)
    return SignoffState(len(people) >= rule.min_signers, tuple(people), rule.min_signers)


def signature_required(spec: StepSpec) -> bool:
    """Whether only an SSH-signed sign-off counts for `spec` (commands that sign on a person's behalf skip it)."""
    return bool(spec.signoff and spec.signoff.signatures_required)


def unblock_command(spec: StepSpec) -> str:
    role = spec.signoff.roles[0] if spec.signoff and spec.signoff.roles else "<role>"
    extra = " --evidence <url>" if spec.signoff and spec.signoff.evidence_required else ""
    extra += " --key <your-ssh-key>" if spec.signoff and spec.signoff.signatures_required else ""
    return f"cutover signoff {spec.id} --by <name> --role {role}{extra}"


def waiting_message(spec: StepSpec, state: SignoffState) -> str:
    so_far = ""
    if state.needed > 1:
        who = ", ".join(state.signers) or "none yet"
        so_far = f" ({len(state.signers)} of {state.needed} distinct people so far: {who})"
    return f"waiting for sign-off: {spec.title}{so_far} — run: {unblock_command(spec)}"


def check_waiver(
    step_id: str, *, reason: str, approver: str, existing: Sequence[SignoffRecord], rules: RoleRules
) -> None:
    if not reason.strip():
        raise UsageError("a waiver needs --reason (why skipping this step is acceptable)")
    if not approver.strip():
        raise UsageError("a waiver needs --approver (who takes responsibility)")
    if not rules.waiver_roles:
        return
    holds = any(
        same_person(holder, approver) for role in rules.waiver_roles for holder in rules.role_holders.get(role, ())
    ) or any(record.role in rules.waiver_roles and same_person(record.by, approver) for record in existing)
    if not holds:
        raise Failure(
            f"{approver} may not approve waivers: the runbook requires an approver holding {_or(rules.waiver_roles)} "
            f"(named for that role in the runbook, or having signed off as it in this run) to waive {step_id}"
        )


def _or(items: Sequence[str]) -> str:
    items = list(items)
    if not items:
        return "(none)"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]
