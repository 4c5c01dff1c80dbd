"""Executing one step: run / reattach / recover / join, submit and cancel of detachable steps, signals.

`StepExecution` is the part of `Engine` that drives a single step executor and records what happened (events,
status, evidence of a crash). The order in which steps run is `runner.py`'s business; which steps may run in the
background is `overlap.py`'s.
"""

from __future__ import annotations

import signal
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from cutover.engine.context import StepContext
from cutover.engine.model import Step, StepOutcome, StepRecord, StepStatus
from cutover.engine.overlap import Overlap, background_detail
from cutover.engine.progress import Progress
from cutover.engine.replan import definition_hash
from cutover.engine.store import Store, utc_now
from cutover.errors import CutoverError
from cutover.redact import redact


class _Signal(BaseException):
    """Raised from the signal handler; a BaseException so step code catching Exception does not swallow it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class StepExecution:
    """Needs `store` and `project_dir` from `Engine`."""

    store: Store
    project_dir: Path

    def _context(self, record: StepRecord, progress: Progress, cancelled: threading.Event) -> StepContext:
        current = self.store.step(record.run_id, record.id) or record
        return StepContext(
            store=self.store, record=current, project_dir=self.project_dir, progress=progress, cancelled=cancelled
        )

    def _execute_step(
        self,
        record: StepRecord,
        step: Step,
        progress: Progress,
        index: int,
        total: int,
        cancelled: threading.Event,
        *,
        join: bool = False,
    ) -> tuple[StepContext, StepOutcome]:
        """Run the step (or re-attach, recover, or `join` a step submitted earlier) and record its outcome."""
        run_id, spec = record.run_id, record.spec
        crashed = record.status == StepStatus.RUNNING
        mode = "join" if join else (_resume_mode(step, record) if crashed else "run")
        if mode == "refuse":
            detail = (
                f"interrupted during attempt {record.attempt}; it is not idempotent, so its side effect may or may "
                f"not have happened. Check, then either `cutover waive {spec.id} --reason TEXT --approver WHO` "
                f"or `cutover retry {spec.id}` to run it again, then `cutover resume {run_id}`"
            )
            outcome = StepOutcome.failed(detail)
            self._finish_step(record, outcome, started=time.monotonic(), progress=progress)
            return StepContext(store=self.store, record=record, project_dir=self.project_dir), outcome
        attempt = record.attempt + (0 if mode in ("reattach", "recover", "join") else 1)
        now = utc_now()
        with self.store.transaction() as tx:
            if mode == "join":  # started when it was submitted: keep that time
                self.store.update_step(tx, run_id, spec.id, status=StepStatus.RUNNING, finished=None)
                tx.append_event(
                    run_id, "step.joined", spec.id, {"external_ids": dict(record.external_ids), "attempt": attempt}
                )
            else:
                self.store.update_step(
                    tx, run_id, spec.id, status=StepStatus.RUNNING, started=now, attempt=attempt, finished=None
                )
            if mode in ("reattach", "recover"):
                payload: dict[str, Any] = {"external_ids": dict(record.external_ids)}
                tx.append_event(
                    run_id, "step.reattaching", spec.id, payload | ({"recover": True} if mode == "recover" else {})
                )
            elif mode == "run":
                tx.append_event(
                    run_id,
                    "step.started",
                    spec.id,
                    {
                        "attempt": attempt,
                        "action": spec.action,
                        "after_interruption": crashed,
                        "idempotent": bool(getattr(step, "idempotent", False)),
                    },
                )
        ctx = self._context(record, progress, cancelled)
        progress.step_started(spec.id, spec.title, index, total)
        started = time.monotonic()
        try:
            if mode in ("reattach", "join"):
                outcome = step.reattach(ctx, dict(record.external_ids))  # type: ignore[attr-defined]
            elif mode == "recover":
                outcome = step.recover(ctx)  # type: ignore[attr-defined]
            else:
                outcome = step.run(ctx)
            if not isinstance(outcome, StepOutcome):
                raise TypeError(f"step {spec.id} returned {type(outcome).__name__}, not StepOutcome")
        except _Signal as sig:
            name = signal.Signals(sig.signum).name
            with self.store.transaction() as tx:
                tx.append_event(run_id, "step.interrupted", spec.id, {"signal": name})
            progress.step_finished(spec.id, spec.title, "interrupted", name, time.monotonic() - started)
            raise
        except CutoverError as exc:
            outcome = StepOutcome.failed(exc.message + (f" ({exc.hint})" if exc.hint else ""))
        except Exception as exc:  # a bug in a step: keep the run consistent, keep the traceback as evidence
            with suppress(Exception):
                ctx.record_evidence("traceback.txt", "".join(traceback.format_exception(exc)))
            outcome = StepOutcome.failed(f"internal error in step: {type(exc).__name__}: {exc}")
        self._finish_step(ctx.record, outcome, started=started, progress=progress)
        return ctx, outcome

    def _finish_step(self, record: StepRecord, outcome: StepOutcome, *, started: float, progress: Progress) -> None:
        spec = record.spec
        status = outcome.status
        finished = None if status == StepStatus.WAITING_SIGNOFF else utc_now()
        with self.store.transaction() as tx:
            self.store.update_step(tx, record.run_id, spec.id, status=status, finished=finished, detail=outcome.detail)
            tx.append_event(
                record.run_id,
                "step.finished",
                spec.id,
                {
                    "status": status.value,
                    "detail": outcome.detail,
                    "data": dict(outcome.data),
                    "seconds": round(time.monotonic() - started, 3),
                    "definition": definition_hash(spec),
                },
            )
        progress.step_finished(spec.id, spec.title, status.value, outcome.detail, time.monotonic() - started)

    # -- detachable steps (see overlap.py) -------------------------------------------------------------------------
    def _submit(
        self, record: StepRecord, step: Step, overlap: Overlap, progress: Progress, cancelled: threading.Event
    ) -> bool:
        """Submit a detachable step's job; True when it now runs in the background (its job id is recorded).

        A submission that fails before recording a job id puts the step back to `pending`: it runs at its place."""
        run_id, spec = record.run_id, record.spec
        with self.store.transaction() as tx:
            self.store.update_step(
                tx,
                run_id,
                spec.id,
                status=StepStatus.RUNNING,
                started=utc_now(),
                attempt=record.attempt + 1,
                finished=None,
                detail="submitting",
            )
            tx.append_event(
                run_id,
                "step.submitted",
                spec.id,
                {
                    "attempt": record.attempt + 1,
                    "action": spec.action,
                    "idempotent": bool(getattr(step, "idempotent", False)),
                    **overlap.to_json(),
                },
            )
        ctx = self._context(record, progress, cancelled)
        error = None
        try:
            step.submit(ctx)  # type: ignore[attr-defined]
        except _Signal as sig:
            with self.store.transaction() as tx:
                tx.append_event(run_id, "step.interrupted", spec.id, {"signal": signal.Signals(sig.signum).name})
            raise
        except CutoverError as exc:
            error = exc.message
        except Exception as exc:  # a bug in the step: it runs at its place, where a failure is judged as usual
            error = f"internal error in step: {type(exc).__name__}: {exc}"
        ids = dict((self.store.step(run_id, spec.id) or record).external_ids)
        if ids:  # the job exists (even if something failed after): it is joined, and judged, at its place
            with self.store.transaction() as tx:
                self.store.update_step(tx, run_id, spec.id, detail=background_detail(ids))
            progress.note(f"{spec.id}: submitted, {background_detail(ids)}")
            return True
        why = redact(error or "the step recorded no job id")
        with self.store.transaction() as tx:
            self.store.update_step(tx, run_id, spec.id, status=StepStatus.PENDING, started=None, detail="")
            tx.append_event(run_id, "step.submit_failed", spec.id, {"error": why})
        progress.note(f"{spec.id}: could not be submitted early ({why}); it runs at its place")
        return False

    def _cancel(self, record: StepRecord, step: Step, reason: str, progress: Progress) -> None:
        """Cancel a background job (the executor's `cancel`); the step goes back to `pending`, without its job id,
        so a retry or resume submits it afresh."""
        run_id = record.run_id
        record = self.store.step(run_id, record.id) or record
        ids = dict(record.external_ids)
        ctx = self._context(record, progress, threading.Event())
        error = note = None
        try:
            note = step.cancel(ctx, ids)  # type: ignore[attr-defined]  # None, or what happened instead
        except CutoverError as exc:
            error = exc.message
        except Exception as exc:  # a job that cannot be cancelled is left running, and said so
            error = f"{type(exc).__name__}: {exc}"
        if error is not None:
            detail = f"not joined ({reason}); cancel failed: {error}"
        else:
            detail = f"{note or 'cancelled'} ({reason})"
        with self.store.transaction() as tx:
            self.store.update_step(
                tx, run_id, record.id, status=StepStatus.PENDING, finished=None, detail=redact(detail), external_ids={}
            )
            tx.append_event(
                run_id,
                "step.cancelled",
                record.id,
                {"reason": reason, "external_ids": ids, "error": error, "note": note},
            )
        progress.note(f"{record.id}: {detail}")


def _resume_mode(step: Step, record: StepRecord) -> str:
    """How to continue a step an interruption left `running`: `reattach` to its recorded job, `recover` (a
    non-idempotent step that recorded no job id asks the outside world whether its side effect happened, then adopts
    it or does it), `run` again (idempotent), or `refuse` (fail, asking a person to check)."""
    if record.external_ids and callable(getattr(step, "reattach", None)):
        return "reattach"
    if getattr(step, "idempotent", False):
        return "run"
    return "recover" if callable(getattr(step, "recover", None)) else "refuse"


@contextmanager
def _signals_raise(cancelled: threading.Event) -> Iterator[None]:
    """While executing, turn SIGTERM/SIGINT into `_Signal` in the main thread (no-op outside the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        if cancelled.is_set():  # a second Ctrl-C while stopping must not cut the bookkeeping of the first short
            return
        cancelled.set()
        raise _Signal(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
