"""Which stored steps an execution may run (shared by the engine and the commands that build executors)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cutover.engine.model import DONE_STATUSES, StepRecord, StepSpec, StepStatus

StepSelector = Callable[[StepSpec], bool]


def steps_to_execute(records: Sequence[StepRecord], select: StepSelector | None = None) -> list[StepRecord]:
    """The steps an execution may run: unfinished ones in order, up to the first one `select` leaves out (a run
    never skips ahead past an unfinished step); plus the contingency steps when one of those may trigger a rollback
    (their executors must exist before the run starts). An earlier blocking failure is included: if its executor is
    idempotent (a read-only check) it is re-checked, else the run stops there (see `Engine._execute_locked`)."""
    out = []
    may_roll_back = False
    for record in records:
        if record.spec.contingency or record.status in DONE_STATUSES:
            continue
        if record.status == StepStatus.FAILED:
            if record.spec.blocking and record.spec.on_failure == "rollback":
                may_roll_back = True
                break
            if not record.spec.blocking:
                continue
        if select is not None and not select(record.spec):
            break
        out.append(record)
        may_roll_back = may_roll_back or record.spec.on_failure == "rollback"
    if may_roll_back:  # the rollback must be possible before anything that may need it starts
        out += [r for r in records if r.spec.contingency and r.status not in DONE_STATUSES]
    return out
