"""`Engine`: the library API behind `cutover run/resume/status/signoff/waive/retry/audit/lock`.

A run executes its stored, flat list of steps in order. For each step:
  - already passed / waived / skipped → left alone (resume never re-executes a finished side effect);
  - left `running` by a crashed or interrupted attempt → `reattach(ctx, external_ids)` if the step recorded an
    external job id and implements it; else run again if the step is idempotent; else marked failed with a message
    saying the side effect may have happened and which commands proceed (`cutover waive` / `cutover retry`);
  - otherwise run; `waiting_signoff` pauses the run (exit 4, the message names the unblocking command); a blocking
    failure fails the run (exit 1); a non-blocking failure is reported and the run goes on.
The org lock is held for the whole execution and re-checked before every step; SIGTERM/SIGINT leave the current step
`running` (resumable), record the interruption, release the lock and exit 130.

Around it: `status.py` (the status document), `decisions.py` (sign-offs, waivers, retries), `replan.py` (a run
whose runbook changed), `selection.py` (which steps an execution may run).
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cutover.engine.anchors import publish_anchor
from cutover.engine.background import BackgroundMixin, Pass
from cutover.engine.decisions import DecisionsMixin, waive_command
from cutover.engine.execution import _Signal, _signals_raise
from cutover.engine.integrity import AuditReport, check_run
from cutover.engine.lock import OrgLocks
from cutover.engine.model import (
    DONE_STATUSES,
    OPEN_RUN_STATES,
    EventRecord,
    RunInfo,
    RunResult,
    RunState,
    Step,
    StepRecord,
    StepSpec,
    StepStatus,
)
from cutover.engine.progress import Progress
from cutover.engine.replan import Replan, replan
from cutover.engine.rollback_run import DEPLOY_STAGES, RollbackMixin
from cutover.engine.selection import StepSelector, steps_to_execute
from cutover.engine.status import run_status
from cutover.engine.store import Store, pick_run, utc_now
from cutover.errors import CutoverError, ExitCode, RunLocked, StepFailed, UsageError
from cutover.redact import redact


class Interrupted(CutoverError):
    """SIGINT/SIGTERM during a run: the current step stays `running` and `cutover resume` continues it."""

    exit_code = ExitCode.INTERRUPTED


__all__ = ["Engine", "Interrupted", "RunResult", "StepSelector", "steps_to_execute"]


class Engine(RollbackMixin, BackgroundMixin, DecisionsMixin):
    """One project's runs. `Engine(project_dir)` opens (and migrates) `.cutover/state.db`."""

    def __init__(self, project_dir: Path) -> None:
        self.project_dir = Path(project_dir).resolve()
        self.store = Store.open(self.project_dir)
        self.cutover_dir = self.store.cutover_dir
        self.locks = OrgLocks(self.cutover_dir)

    def close(self) -> None:
        self.store.close()

    # -- runs --------------------------------------------------------------------------------------------------------
    def create_run(
        self,
        target_org: str,
        specs: Sequence[StepSpec],
        *,
        runbook_path: str | None = None,
        runbook_sha256: str | None = None,
        git_head: str | None = None,
    ) -> RunInfo:
        with self.store.transaction() as tx:
            run_id = self.store.create_run(
                tx,
                target_org=target_org,
                specs=specs,
                runbook_path=runbook_path,
                runbook_sha256=runbook_sha256,
                git_head=git_head,
            )
        return self._run(run_id)

    def open_run(self, target_org: str) -> RunInfo | None:
        """The run of this org that `cutover run` would continue (planned, running or paused), if any."""
        runs = [r for r in self.store.list_runs(target_org) if r.state in OPEN_RUN_STATES]
        return runs[-1] if runs else None

    def continuable_run(
        self, target_org: str, *, git_head: str | None, runbook_sha256: str | None, any_runbook: bool = False
    ) -> RunInfo | None:
        """The run `cutover run`/`cutover preflight` should continue: the org's open run, else its latest run if that
        failed at the same commit and runbook (any runbook with `any_runbook`: the caller re-plans it) before any
        non-idempotent step ever started.

        Such a failed run changed nothing outside (only read-only, repeatable steps ran, e.g. gates), so continuing it
        is safe, and it keeps the sign-offs and waivers given to fix it instead of starting over without them.
        """
        run = self.open_run(target_org)
        if run is not None:
            return run
        runs = self.store.list_runs(target_org)
        if not runs:
            return None
        last = runs[-1]
        if last.state != RunState.FAILED or last.git_head != git_head:
            return None
        if not any_runbook and last.runbook_sha256 != runbook_sha256:
            return None
        for event in self.store.events(last.id):
            if event.type in ("step.started", "step.submitted") and event.payload.get("idempotent") is False:
                return None
        return last

    def runs(self, target_org: str | None = None) -> list[RunInfo]:
        return self.store.list_runs(target_org)

    def resolve_run(self, run_id: str | None = None, *, target_org: str | None = None) -> RunInfo:
        """The run named by `run_id` (a unique prefix is enough), else the latest run (of `target_org`)."""
        return pick_run(self.store.list_runs(target_org), run_id)

    def _run(self, run_id: str) -> RunInfo:
        run = self.store.get_run(run_id)
        if run is None:
            raise UsageError(f"no run {run_id!r}", hint="list runs with: cutover runs")
        return run

    def steps(self, run_id: str) -> list[StepRecord]:
        return self.store.steps(run_id)

    def _step(self, run_id: str, step_id: str) -> StepRecord:
        record = self.store.step(run_id, step_id)
        if record is None:
            known = ", ".join(s.id for s in self.store.steps(run_id)[:12])
            raise UsageError(f"run {run_id} has no step {step_id!r}", hint=f"steps: {known}" if known else None)
        return record

    def replan(
        self, run_id: str, specs: Sequence[StepSpec], *, runbook_sha256: str | None, runbook_path: str | None = None
    ) -> Replan:
        """Re-plan a run whose runbook changed: only the steps whose definition changed are reset (see
        `cutover.engine.replan`). Refused while the run is executing."""
        run = self._run(run_id)
        if run.state not in OPEN_RUN_STATES and run.state not in (RunState.FAILED, RunState.SUCCEEDED):
            raise UsageError(f"run {run_id} is {run.state}; its plan can no longer change")
        self._refuse_if_executing(run, "the plan")
        return replan(self.store, run, specs, runbook_sha256=runbook_sha256, runbook_path=runbook_path)

    def abort(self, run_id: str, reason: str) -> RunInfo:
        run = self._run(run_id)
        if run.state not in OPEN_RUN_STATES and run.state != RunState.FAILED:
            raise UsageError(f"run {run_id} is {run.state}; only an open or failed run can be aborted")
        holder = self.locks.read(run.target_org)
        if holder and holder.run_id == run_id and not holder.stale:
            raise RunLocked(f"run {run_id} is executing right now ({holder.describe()})")
        with self.store.transaction() as tx:
            self.store.set_run_state(tx, run_id, RunState.ABORTED, note=reason)
            tx.append_event(run_id, "run.aborted", None, {"reason": reason, "previous_state": run.state.value})
        publish_anchor(self.store, self.project_dir, run_id)  # the end of the run: its head off the machine
        return self._run(run_id)

    # -- status ------------------------------------------------------------------------------------------------------
    def status(self, run_id: str) -> dict[str, Any]:
        """The `cutover status --format json` document."""
        return run_status(self, run_id)

    def _refuse_if_executing(self, run: RunInfo, step_id: str) -> None:
        holder = self.locks.read(run.target_org)
        if holder and holder.run_id == run.id and not holder.stale:
            raise RunLocked(f"run {run.id} is executing right now ({holder.describe()}); cannot change {step_id}")

    # -- audit ---------------------------------------------------------------------------------------------------------
    def events(self, run_id: str) -> list[EventRecord]:
        self._run(run_id)
        return self.store.events(run_id)

    def verify(self, run_id: str) -> AuditReport:
        """Recompute the run's hash chain, evidence hashes and HEAD anchor, and compare every table with the replayed
        log (see cutover.engine.integrity: the verdict `audit verify` and `report` share)."""
        return check_run(self.store, run_id, self._run(run_id))

    def request_rollback(self, run_id: str, *, reason: str, by: str | None = None) -> RunInfo:
        """Ask for the run's contingency (rollback) steps to run on the next `execute` (a manual rollback).

        Allowed for an open, failed or succeeded run that has contingency steps; contingency steps skipped as "not
        needed" become pending again. The run is left paused; `execute` then runs the rollback and ends it
        `rolled_back`. Whether a rollback makes sense (was anything deployed?) is the caller's decision.
        """
        run = self._run(run_id)
        if run.state not in OPEN_RUN_STATES and run.state not in (RunState.FAILED, RunState.SUCCEEDED):
            raise UsageError(f"run {run_id} is {run.state}; only an open, failed or succeeded run can be rolled back")
        records = [r for r in self.store.steps(run_id) if r.spec.contingency]
        if not records:
            raise UsageError(f"run {run_id} has no rollback steps", hint="its plan deployed nothing")
        self._refuse_if_executing(run, "rollback")
        with self.store.transaction() as tx:
            for record in records:
                if record.status == StepStatus.SKIPPED:
                    self.store.update_step(tx, run_id, record.id, status=StepStatus.PENDING, detail="", finished=None)
            self.store.set_run_state(tx, run_id, RunState.PAUSED, note=f"rollback requested: {reason}")
            tx.append_event(
                run_id, "rollback.requested", None, {"reason": reason, "by": by, "previous_state": run.state.value}
            )
        return self._run(run_id)

    def rollback_requested(self, run_id: str) -> str | None:
        """The reason of a pending manual rollback request (then `execute` runs only the contingency steps)."""
        return self._requested_rollback(run_id)

    def _requested_rollback(self, run_id: str) -> str | None:
        """The reason of a pending manual rollback request, if any."""
        for event in reversed(self.store.events(run_id)):
            if event.type == "rollback.requested":
                return str(event.payload.get("reason") or "requested")
        return None

    # -- execution -----------------------------------------------------------------------------------------------------
    def execute(
        self,
        run_id: str,
        executors: Mapping[str, Step],
        *,
        select: StepSelector | None = None,
        progress: Progress | None = None,
    ) -> RunResult:
        """Execute (or resume) a run under the org lock. `executors` maps step id → Step for every unfinished step
        that `select` keeps (default: all). Steps not selected are left pending and the run pauses before them.

        Raises AwaitingSignoff (exit 4), StepFailed (exit 1), RunLocked (exit 5), Interrupted (exit 130).
        """
        run = self._run(run_id)
        # A run that failed only on read-only checks continues: they are re-checked (see _execute_locked).
        continuable = run.state == RunState.FAILED and self._only_repeatable_failures(run_id, executors)
        if run.state not in OPEN_RUN_STATES and not continuable:
            hint = "start a new run with: cutover run"
            if run.state == RunState.FAILED:
                hint = f"see `cutover status {run_id}`; `cutover retry STEP` or `cutover waive STEP ...`, then resume"
            raise UsageError(f"run {run_id} is {run.state} and cannot be continued", hint=hint)
        progress = progress or Progress()
        self.locks.acquire(run.target_org, run_id, utc_now())
        cancelled = threading.Event()
        try:
            with _signals_raise(cancelled):
                try:
                    return self._execute_locked(run, executors, select or (lambda _spec: True), progress, cancelled)
                except _Signal as sig:
                    name = signal.Signals(sig.signum).name
                    with self.store.transaction() as tx:
                        self.store.set_run_state(tx, run_id, RunState.PAUSED, note=f"interrupted by {name}")
                        tx.append_event(run_id, "run.interrupted", None, {"signal": name})
                    raise Interrupted(
                        f"interrupted by {name}; run {run_id} is paused (an unfinished step stays `running`)",
                        hint=f"continue with: cutover resume {run_id}",
                    ) from None
        finally:
            publish_anchor(self.store, self.project_dir, run_id, warn=progress.note)  # paused, failed or ended
            progress.close()
            self.locks.release(run.target_org, run_id)

    def _only_repeatable_failures(self, run_id: str, executors: Mapping[str, Step]) -> bool:
        """True when every failed step of the run has an idempotent executor here (a read-only check to re-run)."""
        failed = [r for r in self.store.steps(run_id) if r.status == StepStatus.FAILED and not r.spec.contingency]
        return bool(failed) and all(getattr(executors.get(r.id), "idempotent", False) for r in failed)

    def _execute_locked(
        self,
        run: RunInfo,
        executors: Mapping[str, Step],
        select: StepSelector,
        progress: Progress,
        cancelled: threading.Event,
    ) -> RunResult:
        run_id = run.id
        records = self.store.steps(run_id)
        requested_rollback = self._requested_rollback(run_id)
        if requested_rollback is not None:  # the rest of the plan does not run: only the contingency needs executors
            return self._rollback(run, None, requested_rollback, executors, progress, cancelled)
        # Contingency (rollback) steps may lack an executor: a rollback that cannot run fails the run clearly then.
        missing = []
        for r in steps_to_execute(records, select):
            if r.status == StepStatus.FAILED and not getattr(executors.get(r.id), "idempotent", False):
                break  # the run stops at this failure: later steps need no executor now
            if r.id not in executors and not r.spec.contingency:
                missing.append(r.id)
        if missing:
            raise UsageError(f"no executor for step(s): {', '.join(missing)}")
        with self.store.transaction() as tx:
            self.store.set_run_state(tx, run_id, RunState.RUNNING, pid=os.getpid(), host=socket.gethostname())
            kind = "run.started" if run.state == RunState.PLANNED else "run.resumed"
            tx.append_event(
                run_id,
                kind,
                None,
                {
                    "previous_state": run.state.value,
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "user": _os_user(),  # who ran it, for the release record
                },
            )
        state = Pass()
        positions = {r.id: i for i, r in enumerate(records)}
        total = len(records)
        for index, record in enumerate(records, start=1):
            record = self.store.step(run_id, record.id) or record  # a sign-off/waiver may have changed it
            if record.spec.contingency or record.status in DONE_STATUSES:
                continue
            if record.status == StepStatus.FAILED:  # an earlier non-blocking failure (blocking ones fail the run)
                recheck = getattr(executors.get(record.id), "idempotent", False) and select(record.spec)
                stops = record.spec.on_failure == "rollback" or not recheck
                if record.spec.blocking and stops:  # nothing may keep running in the background unrecorded
                    self._drain(run, state, executors, f"{record.id} failed", progress, cancelled)
                if record.spec.blocking and record.spec.on_failure == "rollback":  # crashed while rolling back
                    return self._rollback(run, record, record.detail, executors, progress, cancelled)
                # A failed read-only check (a gate) is re-checked now: the operator may have fixed the cause.
                if not (record.spec.blocking and recheck):
                    if record.spec.blocking:
                        return self._fail(run_id, record, record.detail or "failed")
                    state.nonblocking_failures.append(record.id)
                    continue
            if not select(record.spec):
                return self._pause(
                    run_id,
                    f"stopped before {record.id} (not selected by --only/--until); "
                    f"continue with: cutover resume {run_id}",
                    event="run.stopped",
                )
            if not self.locks.holds(run.target_org, run_id):
                raise RunLocked(
                    f"the lock on {run.target_org} was broken while run {run_id} was executing; stopping before "
                    f"{record.id}",
                    hint=f"check `cutover lock status`, then `cutover resume {run_id}`",
                )
            ended = self._join_due(run, state, record, positions, executors, progress, cancelled)
            if ended is not None:
                return ended
            record = self.store.step(run_id, record.id) or record
            if record.status in DONE_STATUSES or record.id in state.background:  # joined now / still in background
                continue
            if self._adopt(record, executors.get(record.id)):  # submitted before a crash: joined later
                state.background[record.id] = record
                continue
            self._submit_ready(run, record, records[index:], state, executors, select, progress, cancelled)
            if record.id in state.background:  # submitted just now: it runs while the next steps run
                continue
            if record.spec.stage in DEPLOY_STAGES:
                self._warn_if_rollback_disabled(run_id, progress)
            ctx, outcome = self._execute_step(record, executors[record.id], progress, index, total, cancelled)
            ended = self._settle(run, record, ctx, outcome, state, executors, progress, cancelled)
            if ended is not None:
                return ended
        ended = self._join_due(run, state, None, positions, executors, progress, cancelled)
        if ended is not None:
            return ended
        nonblocking_failures, open_signoffs = state.nonblocking_failures, state.open_signoffs
        final = state.requested_state or RunState.SUCCEEDED
        note = "all steps finished"
        if nonblocking_failures:
            note += f"; non-blocking failures: {', '.join(nonblocking_failures)}"
        if open_signoffs:
            note += f"; sign-offs still open (non-blocking): {', '.join(open_signoffs)}"
        with self.store.transaction() as tx:
            for record in self.store.steps(run_id):
                if record.spec.contingency and record.status == StepStatus.PENDING:
                    self.store.update_step(tx, run_id, record.id, status=StepStatus.SKIPPED, detail="not needed")
            self.store.set_run_state(tx, run_id, final, note=note)
            tx.append_event(
                run_id,
                "run.finished",
                None,
                {
                    "state": final.value,
                    "non_blocking_failures": nonblocking_failures,
                    "open_signoffs": open_signoffs,
                },
            )
        return RunResult(run_id, final, note, tuple(nonblocking_failures))

    def _pause(self, run_id: str, message: str, *, event: str) -> RunResult:
        with self.store.transaction() as tx:
            self.store.set_run_state(tx, run_id, RunState.PAUSED, note=message)
            tx.append_event(run_id, event, None, {"message": message})
        return RunResult(run_id, RunState.PAUSED, message)

    def _fail(self, run_id: str, record: StepRecord, detail: str) -> RunResult:
        message = f"step {record.id} ({record.spec.title}) failed: {redact(detail)}"
        with self.store.transaction() as tx:
            self.store.set_run_state(tx, run_id, RunState.FAILED, note=message)
            tx.append_event(run_id, "run.failed", record.id, {"message": message})
        raise StepFailed(
            message,
            hint=f"details: cutover status {run_id}; after fixing: cutover retry {record.id} && cutover resume "
            f"(or waive it: {waive_command(record, self.store.steps(run_id))})",
        )


def _os_user() -> str | None:
    try:
        import getpass

        return redact(getpass.getuser())
    except (KeyError, OSError, ImportError):  # no passwd entry / no login name (containers)
        return None
