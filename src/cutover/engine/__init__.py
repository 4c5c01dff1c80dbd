"""The run engine: ordered steps with states, SQLite state, evidence, a hash-chained audit log, sign-offs with
separation of duties, waivers, resume, and one run per target org. It knows nothing of Salesforce or of the runbook
file: callers hand it plain `StepSpec`s, `RoleRules` and `Step` executors (see `cutover.steps` for the adapter that
turns a runbook into those, and `cutover.steps.registry` to register an executor for a plan action).

Library use::

    engine = Engine(project_dir)                          # .cutover/state.db, migrated
    run = engine.open_run(org) or engine.create_run(org, specs, runbook_path=..., runbook_sha256=..., git_head=...)
    result = engine.execute(run.id, {spec.id: step, ...}, select=..., progress=...)   # under the org lock
    engine.status(run.id)                                 # the `cutover status --format json` document
    engine.signoff(run.id, step_id, by=..., role=..., rules=RoleRules(...))
    engine.waive(run.id, step_id, reason=..., approver=..., rules=...)
    engine.retry(run.id, step_id); engine.verify(run.id) -> VerifyReport
    engine.replan(run.id, new_specs, runbook_sha256=...)   # runbook edited: reset only the changed steps

A step executor implements `Step` (``idempotent: bool``, ``run(ctx) -> StepOutcome``, optionally
``reattach(ctx, external_ids) -> StepOutcome``) and receives a `StepContext` (evidence, external ids, events,
`run_command`, progress, sign-offs).
"""

from cutover.engine.chain import VerifyReport
from cutover.engine.context import StepContext
from cutover.engine.lock import LockInfo, OrgLocks
from cutover.engine.model import (
    DONE_STATUSES,
    OPEN_RUN_STATES,
    CommandResult,
    EventRecord,
    Evidence,
    RoleRules,
    RunInfo,
    RunState,
    SignoffRecord,
    SignoffRule,
    Step,
    StepOutcome,
    StepRecord,
    StepSpec,
    StepStatus,
    WaiverRecord,
)
from cutover.engine.progress import ConsoleProgress, Progress
from cutover.engine.runner import Engine, Interrupted, RunResult

__all__ = [
    "DONE_STATUSES",
    "OPEN_RUN_STATES",
    "CommandResult",
    "ConsoleProgress",
    "Engine",
    "EventRecord",
    "Evidence",
    "Interrupted",
    "LockInfo",
    "OrgLocks",
    "Progress",
    "RoleRules",
    "RunInfo",
    "RunResult",
    "RunState",
    "SignoffRecord",
    "SignoffRule",
    "Step",
    "StepContext",
    "StepOutcome",
    "StepRecord",
    "StepSpec",
    "StepStatus",
    "VerifyReport",
    "WaiverRecord",
]
