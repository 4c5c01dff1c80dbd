"""The runner's bookkeeping for steps running in the background (detachable steps, see `overlap.py`).

`BackgroundMixin` submits detachable steps as soon as their prerequisites are done, joins them at their join point
(or before the run ends), and settles every step outcome the way the runner always has: a sign-off pauses, a
blocking failure fails the run or rolls it back. Before a run fails, whatever still runs in the background is
cancelled (or joined, when its executor cannot cancel), so a failure never leaves a job behind unrecorded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from cutover.engine import signoffs as rules_mod
from cutover.engine.context import StepContext
from cutover.engine.execution import StepExecution
from cutover.engine.model import RunInfo, RunResult, RunState, Step, StepOutcome, StepRecord, StepStatus
from cutover.engine.overlap import Overlap, detachable, join_due, ready_to_submit
from cutover.engine.progress import Progress
from cutover.engine.selection import StepSelector
from cutover.errors import AwaitingSignoff


@dataclass
class Pass:
    """What one execution of a run has gathered so far."""

    requested_state: RunState | None = None
    nonblocking_failures: list[str] = field(default_factory=list)
    open_signoffs: list[str] = field(default_factory=list)
    background: dict[str, StepRecord] = field(default_factory=dict)  # submitted, not joined yet
    submitted: set[str] = field(default_factory=set)  # tried once per execution (a failed submission runs in place)


class BackgroundMixin(StepExecution):
    """Needs `_rollback`, `_fail` and `_pause` from `Engine`."""

    # implemented by Engine
    _rollback: Callable[..., RunResult]
    _fail: Callable[[str, StepRecord, str], RunResult]
    _pause: Callable[..., RunResult]

    # -- submit ------------------------------------------------------------------------------------------------------
    def _submit_ready(
        self,
        run: RunInfo,
        current: StepRecord,
        later: Sequence[StepRecord],
        state: Pass,
        executors: Mapping[str, Step],
        select: StepSelector,
        progress: Progress,
        cancelled: threading.Event,
    ) -> None:
        """Submit every detachable step from `current` on whose prerequisites are done (and that this execution may
        run). `current` itself only when it joins later than its place (else it simply runs now)."""
        statuses = {r.id: r.status for r in self.store.steps(run.id)}
        for planned in (current, *later):
            overlap = Overlap.of(planned.spec)
            if planned is current and (overlap is None or overlap.join_before is None):
                continue
            step = executors.get(planned.id)
            if overlap is None or planned.id in state.submitted or not detachable(step) or not select(planned.spec):
                continue
            record = self.store.step(run.id, planned.id) or planned
            if not ready_to_submit(record, overlap, statuses):
                continue
            assert step is not None  # detachable() said so
            state.submitted.add(record.id)
            if self._submit(record, step, overlap, progress, cancelled):
                state.background[record.id] = self.store.step(run.id, record.id) or record

    def _adopt(self, record: StepRecord, step: Step | None) -> bool:
        """A step left `running` with a job id by an earlier execution that joins later than its place: it keeps
        running in the background and is re-attached at its join point (never submitted again)."""
        overlap = Overlap.of(record.spec)
        return (
            record.status == StepStatus.RUNNING
            and bool(record.external_ids)
            and overlap is not None
            and overlap.join_before is not None
            and detachable(step)
        )

    # -- join --------------------------------------------------------------------------------------------------------
    def _join_due(
        self,
        run: RunInfo,
        state: Pass,
        current: StepRecord | None,
        positions: Mapping[str, int],
        executors: Mapping[str, Step],
        progress: Progress,
        cancelled: threading.Event,
    ) -> RunResult | None:
        """Join the background steps due before `current` (None: all of them), in plan order; settle each outcome."""
        due = [
            r
            for r in sorted(state.background.values(), key=lambda r: positions.get(r.id, 0))
            if join_due(r, Overlap.of(r.spec) or Overlap(()), current, positions)
        ]
        total = len(positions)
        for planned in due:
            record = self.store.step(run.id, planned.id) or planned
            state.background.pop(record.id, None)
            ctx, outcome = self._execute_step(
                record, executors[record.id], progress, positions.get(record.id, 0) + 1, total, cancelled, join=True
            )
            ended = self._settle(run, record, ctx, outcome, state, executors, progress, cancelled)
            if ended is not None:
                return ended
        return None

    def _drain(
        self,
        run: RunInfo,
        state: Pass,
        executors: Mapping[str, Step],
        reason: str,
        progress: Progress,
        cancelled: threading.Event,
    ) -> list[tuple[StepRecord, StepOutcome]]:
        """Before the run stops on a failure: cancel each background job (or join it when it cannot be cancelled);
        returns the outcomes of the joined ones."""
        joined = []
        for planned in list(state.background.values()):
            state.background.pop(planned.id, None)
            record = self.store.step(run.id, planned.id) or planned
            step = executors[record.id]
            if callable(getattr(step, "cancel", None)):
                self._cancel(record, step, reason, progress)
                continue
            _ctx, outcome = self._execute_step(record, step, progress, 0, 0, cancelled, join=True)
            joined.append((record, outcome))
        return joined

    # -- outcomes ----------------------------------------------------------------------------------------------------
    def _settle(
        self,
        run: RunInfo,
        record: StepRecord,
        ctx: StepContext,
        outcome: StepOutcome,
        state: Pass,
        executors: Mapping[str, Step],
        progress: Progress,
        cancelled: threading.Event,
    ) -> RunResult | None:
        """What a step's outcome means for the run: None to go on, else the run's result (or an exception)."""
        run_id = run.id
        if ctx.requested_run_state is not None:
            state.requested_state = ctx.requested_run_state
        if outcome.status == StepStatus.WAITING_SIGNOFF and not record.spec.blocking:
            state.open_signoffs.append(record.id)  # a follow-up checklist: the run does not wait for it
            return None
        if outcome.status == StepStatus.WAITING_SIGNOFF:
            message = outcome.detail or (
                f"waiting for sign-off: {record.spec.title} — run: {rules_mod.unblock_command(record.spec)}"
            )
            self._pause(run_id, message, event="run.paused")
            raise AwaitingSignoff(message, hint=f"then continue with: cutover resume {run_id}")
        if outcome.status != StepStatus.FAILED:
            return None
        if not record.spec.blocking:
            state.nonblocking_failures.append(record.id)
            return None
        # The run stops here: nothing may keep running unrecorded. A background step planned *before* this one
        # that failed too is judged first, as it would have been without the overlap.
        for earlier, joined in self._drain(run, state, executors, f"{record.id} failed", progress, cancelled):
            if joined.status == StepStatus.FAILED and earlier.spec.blocking and earlier.position < record.position:
                record, outcome = earlier, joined
                break
        if record.spec.on_failure == "rollback":
            return self._rollback(run, record, outcome.detail, executors, progress, cancelled)
        return self._fail(run_id, record, outcome.detail)
