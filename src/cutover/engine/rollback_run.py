"""Running a run's contingency (rollback) steps, and the warning before a deploy that cannot be rolled back.

`RollbackMixin` is the part of `Engine` that executes the rollback: triggered by a blocking step whose failure asks
for it (`on_failure="rollback"`), or requested (`Engine.request_rollback`).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Mapping

from cutover.engine.decisions import ROLLBACK_SOURCE_STAGES
from cutover.engine.execution import StepExecution
from cutover.engine.lock import OrgLocks
from cutover.engine.model import DONE_STATUSES, RunInfo, RunResult, RunState, Step, StepRecord, StepStatus
from cutover.engine.progress import Progress
from cutover.errors import AwaitingSignoff, RunLocked, StepFailed
from cutover.redact import redact

#: Stages that change the target org: a disabled rollback is announced before their first step.
DEPLOY_STAGES = frozenset({"deploy"})


class RollbackMixin(StepExecution):
    """Needs `locks`, `_fail` and `_pause` from `Engine`."""

    locks: OrgLocks
    _fail: Callable[[str, StepRecord, str], RunResult]
    _pause: Callable[..., RunResult]

    def _rollback(
        self,
        run: RunInfo,
        trigger: StepRecord | None,
        reason: str,
        executors: Mapping[str, Step],
        progress: Progress,
        cancelled: threading.Event,
    ) -> RunResult:
        """`trigger` failed and asks for a rollback (or None: a rollback was requested with `request_rollback`): run
        the contingency steps in order, end `rolled_back`. A triggered rollback raises StepFailed (exit 1: the
        release did not hold); a requested one that completes returns normally.

        Resumable like any execution: a crash or a missing sign-off during the rollback leaves the trigger failed and
        the run open, and the next resume comes back here and continues with the first unfinished contingency step.
        """
        run_id = run.id
        contingency = [r for r in self.store.steps(run_id) if r.spec.contingency]
        if not contingency and trigger is not None:  # nothing to roll back with: say so, do not claim rolled_back
            return self._fail(run_id, trigger, f"{reason}; the run has no rollback steps to run")
        first_time = all(r.status == StepStatus.PENDING for r in contingency)
        requested = trigger is None
        why = "rollback requested" if trigger is None else f"{trigger.id} failed"
        trigger = trigger or contingency[0]  # a requested rollback reports against its first step
        with self.store.transaction() as tx:
            self.store.set_run_state(
                tx,
                run_id,
                RunState.RUNNING,
                pid=os.getpid(),
                host=socket.gethostname(),
                note=f"rolling back: {why}",
            )
            tx.append_event(
                run_id,
                "rollback.started" if first_time else "rollback.resumed",
                trigger.id,
                {"reason": reason, "steps": [r.id for r in contingency]},
            )
        progress.note(f"{why}: {reason} — rolling back ({len(contingency)} steps)")
        missing = [r.id for r in contingency if r.status not in DONE_STATUSES and r.id not in executors]
        if missing:
            return self._fail(
                run_id,
                trigger,
                f"{reason}; automatic rollback impossible (no executor for {', '.join(missing)}): roll back by hand",
            )
        for index, record in enumerate(contingency, start=1):
            record = self.store.step(run_id, record.id) or record
            if record.status in DONE_STATUSES:
                continue
            if record.status == StepStatus.FAILED and not record.spec.blocking:
                continue
            if record.status == StepStatus.FAILED:
                return self._fail(run_id, record, f"rollback step failed: {record.detail}")
            if not self.locks.holds(run.target_org, run_id):
                raise RunLocked(f"the lock on {run.target_org} was broken during the rollback of run {run_id}")
            _ctx, outcome = self._execute_step(
                record, executors[record.id], progress, index, len(contingency), cancelled
            )
            if outcome.status == StepStatus.WAITING_SIGNOFF and record.spec.blocking:
                message = outcome.detail or f"waiting for sign-off: {record.spec.title}"
                self._pause(run_id, message, event="run.paused")
                raise AwaitingSignoff(message, hint=f"then continue the rollback with: cutover resume {run_id}")
            if outcome.status == StepStatus.FAILED and record.spec.blocking:
                return self._fail(run_id, record, f"rollback step failed: {outcome.detail}")
        with self.store.transaction() as tx:
            for record in self.store.steps(run_id):
                if not record.spec.contingency and record.status == StepStatus.PENDING:
                    self.store.update_step(
                        tx, run_id, record.id, status=StepStatus.SKIPPED, detail="not run: the run was rolled back"
                    )
            # What the rollback did, in the words of its automated steps ("restored 3 components ...").
            did = "; ".join(
                f"{r.id}: {r.detail}"
                for r in self.store.steps(run_id)
                if r.spec.contingency and r.spec.kind == "automated" and r.status == StepStatus.PASSED and r.detail
            )
            if requested:
                message = f"rolled back on request ({redact(reason)})" + (f": {did}" if did else "")
            else:
                message = f"step {trigger.id} ({trigger.spec.title}) failed: {redact(reason)}; the run was rolled back"
                message += f": {did}" if did else ""
            self.store.set_run_state(tx, run_id, RunState.ROLLED_BACK, note=message)
            tx.append_event(run_id, "run.rolled_back", trigger.id, {"message": message})
        if requested:
            return RunResult(run_id, RunState.ROLLED_BACK, message)
        raise StepFailed(
            message, hint=f"what ran: cutover status {run_id}; the audit trail: cutover audit log {run_id}"
        )

    def _warn_if_rollback_disabled(self, run_id: str, progress: Progress) -> None:
        """Before deploying: say so when a waived backup left the run without a rollback (an audit event, once)."""
        records = self.store.steps(run_id)
        waived = [r.id for r in records if r.spec.stage in ROLLBACK_SOURCE_STAGES and r.status == StepStatus.WAIVED]
        if not waived or not any(r.spec.contingency for r in records):
            return
        message = (
            f"warning: {', '.join(waived)} waived: this deploy cannot be rolled back by cutover "
            "(no backup to restore); roll back by hand if needed"
        )
        progress.note(message)
        if not any(e.type == "rollback.disabled" for e in self.store.events(run_id)):
            with self.store.transaction() as tx:
                tx.append_event(run_id, "rollback.disabled", None, {"waived": waived, "message": message})
