"""Sign-offs, waivers and retries: what people record on a run (the `Engine` methods, as a mixin)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cutover.engine import signoffs as rules_mod
from cutover.engine.model import (
    DONE_STATUSES,
    OPEN_RUN_STATES,
    RoleRules,
    RunInfo,
    RunState,
    SignoffRecord,
    StepRecord,
    StepStatus,
    WaiverRecord,
)
from cutover.engine.replan import definition_hash
from cutover.engine.store import utc_now
from cutover.errors import UsageError
from cutover.redact import redact

if TYPE_CHECKING:
    from cutover.engine.store import Store

#: Stages whose steps the rollback depends on (the backup it restores): waiving one needs an acknowledgement.
ROLLBACK_SOURCE_STAGES = frozenset({"backup"})


def waive_command(record: StepRecord, records: Sequence[StepRecord]) -> str:
    """The `cutover waive` line a message suggests for `record` (with the acknowledgement a backup step needs)."""
    line = f"cutover waive {record.id} --reason TEXT --approver WHO"
    if record.spec.stage in ROLLBACK_SOURCE_STAGES and any(r.spec.contingency for r in records):
        line += " --accept-no-rollback"
    return line


class DecisionsMixin:
    """Needs `store`, `_run`, `_step` and `_refuse_if_executing` from `Engine`."""

    store: Store

    def _run(self, run_id: str) -> RunInfo:  # pragma: no cover - implemented by Engine
        raise NotImplementedError

    def _step(self, run_id: str, step_id: str) -> StepRecord:  # pragma: no cover - implemented by Engine
        raise NotImplementedError

    def _refuse_if_executing(self, run: RunInfo, step_id: str) -> None:  # pragma: no cover - implemented by Engine
        raise NotImplementedError

    def signoff(
        self,
        run_id: str,
        step_id: str,
        *,
        by: str,
        role: str,
        note: str | None = None,
        evidence: str | None = None,
        rules: RoleRules | None = None,
        signature: rules_mod.VerifiedSignature | None = None,
    ) -> SignoffRecord:
        run = self._run(run_id)
        record = self._step(run_id, step_id)
        # A finished run still accepts its open follow-up sign-offs (e.g. the first-week checklist).
        follow_up = run.state == RunState.SUCCEEDED and record.status == StepStatus.WAITING_SIGNOFF
        # A failed run still collects sign-offs (e.g. the review approvals a failed review gate asked for).
        if run.state not in OPEN_RUN_STATES and run.state != RunState.FAILED and not follow_up:
            raise UsageError(f"run {run_id} is {run.state}; sign-offs attach to an open run")
        if record.status in DONE_STATUSES:
            raise UsageError(f"step {step_id} is already {record.status}")
        with self.store.transaction() as tx:
            # Again under the write lock: another process may have waived or finished the step since.
            current = self._step(run_id, step_id)
            if current.status in DONE_STATUSES:
                raise UsageError(f"step {step_id} is already {current.status}")
            # From the chained log, read inside the write lock (no race with a parallel sign-off).
            existing = self.store.logged_signoffs(run_id)
            rules_mod.check_signoff(
                record.spec,
                by=by,
                role=role,
                evidence=evidence,
                existing=existing,
                rules=rules or RoleRules(),
                signature=signature,
            )
            signed_by = signature.payload() if signature else {}
            signed = SignoffRecord(
                run_id,
                step_id,
                redact(by.strip()),
                role,
                redact(note) if note else None,
                redact(evidence) if evidence else None,
                utc_now(),
                definition_hash(current.spec),
                *(signed_by.get(k) for k in ("signer", "fingerprint", "statement_sha256")),
            )
            self.store.add_signoff(tx, signed)
            if signature is not None:
                rules_mod.record_signature_evidence(self.store, tx, run_id, step_id, signature)
            tx.append_event(
                run_id,
                "signoff.recorded",
                step_id,
                {
                    "by": signed.by,
                    "role": role,
                    "note": signed.note,
                    "evidence": signed.evidence,
                    "definition": signed.definition,
                }
                | ({"signed": signed_by} if signed_by else {}),
            )
            if follow_up and record.spec.signoff is not None:
                state = rules_mod.evaluate(record.spec.signoff, self.store.logged_signoffs(run_id, step_id))
                if state.satisfied:
                    detail = "signed by " + ", ".join(state.signers)
                    self.store.update_step(
                        tx, run_id, step_id, status=StepStatus.PASSED, finished=signed.at, detail=detail
                    )
                    tx.append_event(run_id, "step.finished", step_id, {"status": "passed", "detail": detail})
        return signed

    def waive(
        self,
        run_id: str,
        step_id: str,
        *,
        reason: str,
        approver: str,
        rules: RoleRules | None = None,
        accept_no_rollback: bool = False,
    ) -> WaiverRecord:
        """Waive a step. A step the rollback depends on (stage `backup`, in a run that has rollback steps) is waived
        only with `accept_no_rollback`: without its backup the run cannot be rolled back."""
        run = self._run(run_id)
        if run.state not in OPEN_RUN_STATES and run.state != RunState.FAILED:
            raise UsageError(f"run {run_id} is {run.state}; only an open or failed run accepts waivers")
        with self.store.transaction() as tx:
            # Checked under the write lock: another process may have waived or finished the step, or resumed the run.
            self._refuse_if_executing(run, step_id)
            record = self._step(run_id, step_id)
            if record.status in DONE_STATUSES:
                raise UsageError(f"step {step_id} is already {record.status}; nothing to waive")
            rules_mod.check_waiver(
                step_id,
                reason=reason,
                approver=approver,
                existing=self.store.logged_signoffs(run_id),
                rules=rules or RoleRules(),
            )
            disables_rollback = record.spec.stage in ROLLBACK_SOURCE_STAGES and any(
                r.spec.contingency for r in self.store.steps(run_id)
            )
            if disables_rollback and not accept_no_rollback:
                raise UsageError(
                    f"waiving {step_id} disables the rollback of run {run_id} (there would be no backup to restore); "
                    "add --accept-no-rollback to waive it anyway"
                )
            waiver = WaiverRecord(
                run_id,
                step_id,
                redact(reason.strip()),
                redact(approver.strip()),
                utc_now(),
                definition_hash(record.spec),
            )
            self.store.add_waiver(tx, waiver)
            self.store.update_step(
                tx, run_id, step_id, status=StepStatus.WAIVED, finished=waiver.at, detail=f"waived: {waiver.reason}"
            )
            tx.append_event(
                run_id,
                "step.waived",
                step_id,
                {
                    "reason": waiver.reason,
                    "approver": waiver.approver,
                    "previous_status": record.status.value,
                    "definition": waiver.definition,
                }
                | ({"accept_no_rollback": True, "rollback_disabled": True} if disables_rollback else {}),
            )
            if run.state == RunState.FAILED:
                self.store.set_run_state(tx, run_id, RunState.PAUSED, note=f"{step_id} waived")
        return waiver

    def retry(self, run_id: str, step_id: str) -> StepRecord:
        """Reset a failed (or interrupted) step to pending so the next resume runs it again."""
        run = self._run(run_id)
        with self.store.transaction() as tx:
            # Checked under the write lock: a resume that started since would lose the job id it just recorded.
            self._refuse_if_executing(run, step_id)
            record = self._step(run_id, step_id)
            if record.status not in (StepStatus.FAILED, StepStatus.RUNNING):
                raise UsageError(f"step {step_id} is {record.status}; only a failed or interrupted step can be retried")
            self.store.update_step(
                tx, run_id, step_id, status=StepStatus.PENDING, detail="", external_ids={}, finished=None
            )
            tx.append_event(
                run_id,
                "step.retry",
                step_id,
                {"previous_status": record.status.value, "previous_external_ids": dict(record.external_ids)},
            )
            if run.state == RunState.FAILED:
                self.store.set_run_state(tx, run_id, RunState.PAUSED, note=f"{step_id} reset for retry")
        return self._step(run_id, step_id)
